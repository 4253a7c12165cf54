import { expect, test } from "@playwright/test";
import path from "node:path";
import { addTask, SHOTS, signUp, status, taskItem } from "./helpers";
import { Receiver, verified } from "./receiver";

test("a webhook is added with its secret shown once, tested, redelivered, disabled and deleted", async ({ page }) => {
  // The receiver fails the first request: the log shows it, and Redeliver sends it again.
  const receiver = new Receiver([500]);
  const base = await receiver.start();
  try {
    await signUp(page, "Ada");
    await page.getByRole("link", { name: "Integrations" }).click();
    await expect(page.getByText("No webhooks yet.")).toBeVisible();

    const form = page.getByRole("form", { name: "New webhook" });
    await form.getByLabel("Endpoint URL").fill(`${base}/hook`);
    await form.getByLabel("Description").fill("Team chat");
    await form.getByLabel("All events").uncheck();
    await form.getByLabel("task.completed").check();
    await form.getByRole("button", { name: "Add webhook" }).click();
    const secret = await page.getByRole("group", { name: "New signing secret" }).getByLabel("Signing secret").inputValue();
    expect(secret).toMatch(/^whsec_/);
    const item = page.getByRole("list", { name: "Webhooks" }).getByRole("listitem", { name: `${base}/hook` });
    await expect(item).toContainText("task.completed");
    await expect(item.getByTestId("webhook-state")).toHaveText("Enabled");

    // Shown once: the list (and a reload) never shows the secret again.
    await page.getByRole("button", { name: "Done" }).first().click();
    await page.reload();
    await expect(item).toBeVisible();
    expect(await page.content()).not.toContain(secret);

    // Test: the receiver answers 500, the log says so.
    await item.getByRole("button", { name: "Send test" }).click();
    const section = page.getByRole("region", { name: "Webhooks" });
    await expect(section.getByRole("status")).toHaveText(`Sent a test event to ${base}/hook.`);
    const log = item.getByRole("table", { name: `Deliveries to ${base}/hook` });
    const row = log.getByTestId("delivery").filter({ hasText: "webhook.test" });
    await expect(row).toContainText("500", { timeout: 15_000 });
    expect(receiver.received).toHaveLength(1);
    const first = receiver.received[0]!;
    expect(verified(secret, first)).toBe(true);
    expect(JSON.parse(first.body)).toMatchObject({ type: "webhook.test" });

    // Redeliver: the same delivery (same webhook-id) once more, and now it succeeds.
    await row.getByRole("button", { name: "Redeliver" }).click();
    await expect(row.getByRole("cell").nth(1)).toHaveText("succeeded", { timeout: 15_000 });
    expect(receiver.received.length).toBeGreaterThanOrEqual(2);
    for (const request of receiver.received) {
      expect(request.headers["webhook-id"]).toBe(first.headers["webhook-id"]);
      expect(verified(secret, request)).toBe(true);
    }
    await page.screenshot({ path: path.join(SHOTS, "webhooks.png"), fullPage: true });

    // A real event: completing a task is delivered, signed.
    const before = receiver.received.length;
    await page.getByRole("link", { name: "Tasks" }).click();
    await addTask(page, { title: "Ship it" });
    await taskItem(page, "Ship it").getByRole("checkbox", { name: "Complete “Ship it”" }).click();
    await expect(status(page)).toHaveText("Completed “Ship it”.");
    await expect.poll(() => receiver.received.length, { timeout: 15_000 }).toBeGreaterThan(before);
    const completed = receiver.received.at(-1)!;
    expect(verified(secret, completed)).toBe(true);
    expect(JSON.parse(completed.body)).toMatchObject({ type: "task.completed", data: { title: "Ship it" } });

    // Disable and enable again; then delete.
    await page.getByRole("link", { name: "Integrations" }).click();
    await item.getByRole("button", { name: "Disable" }).click();
    await expect(item.getByTestId("webhook-state")).toHaveText("Disabled");
    await expect(item.getByRole("button", { name: "Send test" })).toBeDisabled();
    await item.getByRole("button", { name: "Enable" }).click();
    await expect(item.getByTestId("webhook-state")).toHaveText("Enabled");
    await item.getByRole("button", { name: "Delete" }).click();
    await expect(page.getByText("No webhooks yet.")).toBeVisible();
  } finally {
    await receiver.stop();
  }
});

test("an unsafe webhook URL is refused with the API's reason", async ({ page }) => {
  await signUp(page, "Mallory");
  await page.getByRole("link", { name: "Integrations" }).click();
  const form = page.getByRole("form", { name: "New webhook" });
  await form.getByLabel("Endpoint URL").fill("https://user:pass@hooks.example.com/x");
  await form.getByRole("button", { name: "Add webhook" }).click();
  await expect(page.getByRole("region", { name: "Webhooks" }).getByRole("alert")).toContainText(/credentials|url/i);
  await expect(page.getByText("No webhooks yet.")).toBeVisible();
});
