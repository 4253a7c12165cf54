import { expect, test } from "@playwright/test";
import path from "node:path";
import { addTask, newEmail, secondDevice, SHOTS, signUp, status, taskItem, titles, waitLive } from "./helpers";

test("a second device of the same user sees changes live", async ({ page, browser }) => {
  const email = newEmail("margaret");
  await signUp(page, "Margaret", email);
  const other = await secondDevice(browser, email);
  await waitLive(page);
  await waitLive(other.page);

  await addTask(page, { title: "Land on the moon" });
  await expect(titles(other.page)).toHaveText(["Land on the moon"]); // no reload
  await taskItem(other.page, "Land on the moon").getByRole("checkbox").click();
  await expect(page.getByText("No tasks yet.")).toBeVisible(); // gone from Active here too
  await page.getByRole("button", { name: "Completed" }).click();
  await expect(titles(page)).toHaveText(["Land on the moon"]);
  // Reopened here: back in the other device's Active list.
  await taskItem(page, "Land on the moon").getByRole("checkbox", { name: "Reopen “Land on the moon”" }).click();
  await expect(status(page)).toHaveText("Reopened “Land on the moon”.");
  await expect(titles(other.page)).toHaveText(["Land on the moon"]);
  await other.context.close();
});

/** The datetime-local value of the current minute: a reminder that is due now. */
function thisMinute(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

test("a reminder that comes due shows a browser notification", async ({ browser }) => {
  const context = await browser.newContext();
  await context.grantPermissions(["notifications"]);
  // Record every notification the page creates (the real constructor still runs).
  await context.addInitScript(() => {
    const Real = window.Notification;
    const shown: { title: string; body?: string }[] = [];
    (window as unknown as { shownNotifications: typeof shown }).shownNotifications = shown;
    class Recorded extends Real {
      constructor(title: string, options?: NotificationOptions) {
        shown.push({ title, body: options?.body });
        super(title, options);
      }
    }
    Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
    window.Notification = Recorded;
  });
  const page = await context.newPage();
  await signUp(page, "Katherine");
  await waitLive(page);
  await addTask(page, { title: "Call the launch pad", remindAt: thisMinute() });
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { shownNotifications: { title: string }[] }).shownNotifications), {
      timeout: 15_000,
    })
    .toEqual([expect.objectContaining({ title: "Reminder: Call the launch pad" })]);
  await context.close();
});

test("without notification permission a reminder shows in the page", async ({ browser }) => {
  const context = await browser.newContext(); // permission not granted
  const page = await context.newPage();
  await signUp(page, "Dorothy");
  await waitLive(page);
  await addTask(page, { title: "Check the orbit", remindAt: thisMinute() });
  const alert = page.getByRole("alert").filter({ hasText: "Reminder: Check the orbit" });
  await expect(alert).toBeVisible({ timeout: 15_000 });
  await page.screenshot({ path: path.join(SHOTS, "reminder.png") });
  await alert.getByRole("button", { name: "Dismiss reminder “Check the orbit”" }).click();
  await expect(alert).toBeHidden();
  await context.close();
});

test("an edit that conflicts with a change elsewhere says so, then reloads or overwrites", async ({ page, browser }) => {
  const email = newEmail("barbara");
  await signUp(page, "Barbara", email);
  await addTask(page, { title: "Draft the plan" });
  const other = await secondDevice(browser, email);

  // Both devices open the same version; the other device saves first.
  await taskItem(page, "Draft the plan").getByRole("button", { name: "Edit “Draft the plan”" }).click();
  await taskItem(other.page, "Draft the plan").getByRole("button", { name: "Edit “Draft the plan”" }).click();
  const otherForm = other.page.getByRole("form", { name: "Edit task" });
  await otherForm.getByLabel("Title").fill("Draft the plan v2");
  await otherForm.getByRole("button", { name: "Save" }).click();
  await expect(titles(other.page)).toHaveText(["Draft the plan v2"]);

  const form = page.getByRole("form", { name: "Edit task" });
  await form.getByLabel("Description").fill("my notes");
  await form.getByRole("button", { name: "Save" }).click();
  const conflict = form.getByRole("alert");
  await expect(conflict).toHaveText(/This task changed elsewhere — reload or overwrite\./);
  await page.screenshot({ path: path.join(SHOTS, "conflict.png"), fullPage: true });

  await conflict.getByRole("button", { name: "Reload" }).click();
  await expect(form.getByLabel("Title")).toHaveValue("Draft the plan v2");
  await expect(form.getByRole("alert")).toBeHidden();

  // Changed elsewhere again: this time keep this device's version.
  await taskItem(other.page, "Draft the plan v2").getByRole("checkbox").click();
  await expect(other.page.getByText("No tasks yet.")).toBeVisible();
  await expect(page.getByText("No tasks yet.")).toBeVisible(); // completed: left this Active list too
  await form.getByLabel("Title").fill("Draft the plan, final");
  await form.getByRole("button", { name: "Save" }).click();
  await form.getByRole("alert").getByRole("button", { name: "Overwrite" }).click();
  await page.getByRole("button", { name: "All" }).click();
  await expect(titles(page)).toHaveText(["Draft the plan, final"]);
  // The overwrite sent this form's fields; completing it elsewhere (not a form field) still holds.
  await other.page.getByRole("button", { name: "Completed" }).click();
  await expect(titles(other.page)).toHaveText(["Draft the plan, final"]);
  await other.context.close();
});
