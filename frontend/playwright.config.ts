// End-to-end tests in Debian's chromium (never a downloaded browser). Playwright starts the real
// backend (a fresh SQLite database in a temporary folder, accepting this app's Better Auth JWTs)
// and the production build of this app (`next start`; run `npm run build` first).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defineConfig, devices } from "@playwright/test";

const apiPort = Number(process.env.E2E_API_PORT ?? 8100);
const webPort = Number(process.env.E2E_WEB_PORT ?? 3100);
const webUrl = `http://127.0.0.1:${webPort}`;
const apiUrl = `http://127.0.0.1:${apiPort}`;
// The config is loaded again in each worker: they inherit the folder the main process made.
process.env.E2E_DATA_DIR ??= mkdtempSync(path.join(tmpdir(), "todo-e2e-"));
const dataDir = process.env.E2E_DATA_DIR;

export default defineConfig({
  testDir: "tests/e2e",
  globalTeardown: "./tests/e2e/teardown.ts",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: Number(process.env.E2E_WORKERS ?? 2),
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  use: {
    baseURL: webUrl,
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"], channel: undefined } }],
  webServer: [
    {
      name: "backend",
      command: "make --no-print-directory -C .. run",
      url: `${apiUrl}/api/health`,
      timeout: 180_000,
      reuseExistingServer: false,
      env: {
        HOST: "127.0.0.1",
        PORT: String(apiPort),
        DATABASE_URL: `sqlite:///${dataDir}/todo.db`,
        BETTER_AUTH_URL: webUrl,
        CORS_ORIGINS: webUrl,
        LOG_LEVEL: "warning",
        // Webhooks to the tests' own receiver on loopback (tests/e2e/receiver.ts), plain http.
        WEBHOOK_ALLOW_HTTP: "true",
        WEBHOOK_ALLOW_HOSTS: "127.0.0.1/32",
      },
    },
    {
      name: "frontend",
      command: `npx next start -H 127.0.0.1 -p ${webPort}`,
      url: `${webUrl}/sign-in`,
      timeout: 60_000,
      reuseExistingServer: false,
      env: {
        BETTER_AUTH_URL: webUrl,
        BETTER_AUTH_SECRET: "e2e-tests-only-secret-0123456789abcdef0123",
        AUTH_DATA_DIR: dataDir,
        AUTH_RATE_LIMIT: "off",
        // Short-lived tokens, so renewal before expiry happens (and is tested) within the suite.
        AUTH_JWT_LIFETIME: "12s",
        API_URL: apiUrl,
        // Better Auth on SQLite in the temporary folder, or on the PostgreSQL this names.
        DATABASE_URL: process.env.E2E_AUTH_DATABASE_URL ?? "",
      },
    },
  ],
});
