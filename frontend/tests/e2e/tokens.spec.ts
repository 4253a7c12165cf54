import { expect, test } from "@playwright/test";
import { addTask, signUp, titles } from "./helpers";

const expiry = (bearer: string) =>
  (JSON.parse(Buffer.from(bearer.split(".")[1] ?? "", "base64url").toString()) as { exp: number }).exp * 1000;

// The suite's Better Auth tokens live 12 s (AUTH_JWT_LIFETIME in playwright.config.ts).
test("the Better Auth token is renewed before it expires", async ({ page }) => {
  const sent: { token: string; at: number }[] = [];
  page.on("request", (request) => {
    const header = request.headers().authorization;
    if (header?.startsWith("Bearer ")) sent.push({ token: header.slice(7), at: Date.now() });
  });
  await signUp(page, "Radia");
  await addTask(page, { title: "Before renewal" });
  await page.waitForTimeout(10_000); // past the point where the first token is due for renewal
  await addTask(page, { title: "After renewal" });
  await expect(titles(page)).toHaveCount(2);

  const tokens = new Set(sent.map((s) => s.token));
  expect(tokens.size).toBeGreaterThan(1);
  for (const { token, at } of sent) expect(expiry(token)).toBeGreaterThan(at);
});

test("a 401 from the API fetches a new token once, and a second 401 signs the user out", async ({ page }) => {
  await signUp(page, "Frances");
  await addTask(page, { title: "Survives one 401" });

  // The API refuses the next request once (as after a key rotation): the app retries with a new token.
  let refused = 0;
  await page.route(/\/api\/tasks\?/, async (route) => {
    if (refused++ === 0) return route.fulfill({ status: 401, json: { detail: "Token expired.", code: "token_expired" } });
    return route.continue();
  });
  const renewed = page.waitForRequest(/\/api\/auth\/token/);
  await page.getByLabel("Search").fill("Survives");
  await renewed;
  await expect(titles(page)).toHaveText(["Survives one 401"]);

  // Now every attempt is refused: the session is over.
  await page.unroute(/\/api\/tasks\?/);
  await page.route(/\/api\/tasks\?/, (route) =>
    route.fulfill({ status: 401, json: { detail: "Session revoked.", code: "session_revoked" } }),
  );
  await page.getByLabel("Search").fill("anything");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.goto("/tasks");
  await expect(page).toHaveURL(/\/sign-in$/);
});
