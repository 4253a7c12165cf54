import { expect, test } from "@playwright/test";
import path from "node:path";
import { addTask, isoDay, SHOTS, signUp } from "./helpers";

test("a calendar feed is created, its webcal link copied and served, then revoked", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signUp(page, "Grace");
  await addTask(page, { title: "Dentist", due: isoDay(3), time: "09:30" });
  await addTask(page, { title: "No date" });

  await page.getByRole("link", { name: "Integrations" }).click();
  await expect(page.getByRole("heading", { name: "Integrations" })).toBeVisible();
  await expect(page.getByText("No calendar feeds yet.")).toBeVisible();

  const section = page.getByRole("region", { name: "Calendar feeds" });
  const form = section.getByRole("form", { name: "New calendar feed" });
  await form.getByLabel("Feed name").fill("Phone");
  await form.getByRole("button", { name: "Create feed" }).click();
  const secret = page.getByRole("group", { name: "New feed link" });
  const link = await secret.getByLabel("Calendar link").inputValue();
  expect(link).toMatch(/^webcal:\/\/127\.0\.0\.1:\d+\/api\/calendar\/cal_[\w-]{43}\.ics$/);
  await expect(page.getByRole("list", { name: "Calendar feeds" }).getByRole("listitem")).toHaveText([/Phone/]);

  await secret.getByRole("button", { name: "Copy link" }).click();
  await expect(section.getByRole("status")).toHaveText(/Copied the webcal:\/\/ link/);
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
  await page.screenshot({ path: path.join(SHOTS, "integrations.png"), fullPage: true });

  // The link serves the dated task (not the undated one) to any client, without a sign-in.
  const feedUrl = link.replace(/^webcal:/, "http:");
  const feed = await page.request.get(feedUrl);
  expect(feed.status()).toBe(200);
  expect(feed.headers()["content-type"]).toBe("text/calendar; charset=utf-8");
  const body = await feed.text();
  expect(body).toContain("SUMMARY:Dentist");
  expect(body).not.toContain("No date");

  // Shown once: after a reload the page lists the feed but cannot show its link again.
  await page.reload();
  await expect(page.getByRole("list", { name: "Calendar feeds" }).getByRole("listitem")).toHaveText([/Phone/]);
  await expect(page.getByRole("group", { name: "New feed link" })).toHaveCount(0);
  expect(await page.content()).not.toContain(link.split("/").at(-1) ?? "never");

  await page.getByRole("button", { name: "Revoke “Phone”" }).click();
  await expect(section.getByRole("status")).toHaveText("Revoked “Phone”: its link no longer works.");
  await expect(page.getByText("No calendar feeds yet.")).toBeVisible();
  expect((await page.request.get(feedUrl)).status()).toBe(404);
});
