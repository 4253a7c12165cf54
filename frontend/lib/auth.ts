// Better Auth on the server: email and password, and the jwt() plugin whose tokens the API accepts
// (the backend's "Better Auth bridge" fetches our JWKS from ${BETTER_AUTH_URL}/api/auth/jwks).
import "server-only";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { jwt } from "better-auth/plugins";
import { nextCookies } from "better-auth/next-js";
import { Pool } from "pg";

const dataDir = process.env.AUTH_DATA_DIR ?? path.join(process.cwd(), ".data");
// `next build` loads this module to collect page data: it must not create files or need secrets.
const building = process.env.NEXT_PHASE === "phase-production-build";

/** PostgreSQL when DATABASE_URL is set, else a SQLite file under AUTH_DATA_DIR (default .data/). */
function database() {
  if (building) return new Database(":memory:");
  if (process.env.DATABASE_URL) return new Pool({ connectionString: process.env.DATABASE_URL });
  mkdirSync(dataDir, { recursive: true });
  return new Database(path.join(dataDir, "auth.sqlite"));
}

/** BETTER_AUTH_SECRET, or (like the backend's JWT_SECRET in development) one generated once and kept. */
function secret(): string {
  if (process.env.BETTER_AUTH_SECRET) return process.env.BETTER_AUTH_SECRET;
  if (building) return "only-used-while-building-never-to-sign-anything";
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, "auth-secret");
  if (!existsSync(file)) {
    console.warn(`BETTER_AUTH_SECRET is not set: generated one in ${file}`);
    writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600 });
  }
  return readFileSync(file, "utf8").trim();
}

export const auth = betterAuth({
  baseURL: process.env.BETTER_AUTH_URL ?? "http://localhost:3000",
  secret: secret(),
  database: database(),
  emailAndPassword: { enabled: true, minPasswordLength: 8 },
  telemetry: { enabled: false },
  // The end-to-end tests sign up many users from one address; everywhere else the limits hold.
  rateLimit: { enabled: process.env.AUTH_RATE_LIMIT !== "off" },
  plugins: [
    // AUTH_JWT_LIFETIME shortens the token's life (e.g. "20s") to exercise renewal; default 15 min.
    // Each token gets its own `jti`: signing out revokes the one the app holds, by that id, at
    // the API (POST /api/auth/revoke), which refuses it from then on rather than until it expires.
    jwt({
      jwt: {
        expirationTime: process.env.AUTH_JWT_LIFETIME ?? "15m",
        definePayload: ({ user }) => ({ ...user, jti: randomUUID() }),
      },
    }),
    nextCookies(),
  ],
});

let migrated: Promise<void> | undefined;

/** Create or extend Better Auth's tables (idempotent); runs once when the server starts. */
export function migrate(): Promise<void> {
  migrated ??= getMigrations(auth.options).then(({ runMigrations }) => runMigrations());
  return migrated;
}
