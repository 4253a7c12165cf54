import { expect, test } from "@playwright/test";
import { addTask, signUp } from "./helpers";

const apiUrl = `http://127.0.0.1:${process.env.E2E_API_PORT ?? 8100}`;
const expiry = (bearer: string) =>
  (JSON.parse(Buffer.from(bearer.split(".")[1] ?? "", "base64url").toString()) as { exp: number }).exp * 1000;

// Better Auth's JWTs are signed by the web app and checked by the API on their own: without a
// revocation the token the app held would keep working at the API until it expires.
test("signing out revokes the token the app held: replayed at the API it is refused", async ({ page }) => {
  const sent: string[] = [];
  page.on("request", (request) => {
    const header = request.headers().authorization;
    if (request.url().startsWith(apiUrl) && header?.startsWith("Bearer ")) sent.push(header.slice(7));
  });
  await signUp(page, "Barbara");
  await addTask(page, { title: "Before signing out" });
  const held = sent.at(-1);
  expect(held).toBeDefined();
  const replay = () => page.request.get(`${apiUrl}/api/tasks`, { headers: { Authorization: `Bearer ${held}` } });
  expect((await replay()).status()).toBe(200);

  const revoked = page.waitForRequest(`${apiUrl}/api/auth/revoke`);
  await page.getByRole("button", { name: "Sign out" }).click();
  expect((await revoked).headers().authorization).toBe(`Bearer ${held}`);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  const refused = await replay();
  expect(Date.now()).toBeLessThan(expiry(held ?? "")); // refused for the sign-out, not its age
  expect(refused.status()).toBe(401);
  expect((await refused.json()).code).toBe("session_revoked");
});
