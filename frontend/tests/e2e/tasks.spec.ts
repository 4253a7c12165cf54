import { expect, test } from "@playwright/test";
import path from "node:path";
import { addTask, isoDay, newEmail, SHOTS, signIn, signUp, status, taskItem, titles } from "./helpers";

test("signing up lands on an empty Inbox", async ({ page }) => {
  await signUp(page, "Ada");
  await expect(page.getByRole("navigation", { name: "Lists" }).getByRole("button", { name: "Inbox" })).toHaveAttribute(
    "aria-current",
    "page",
  );
  await expect(page.getByRole("heading", { name: "Inbox" })).toBeVisible();
  await expect(page.getByText("No tasks yet.")).toBeVisible();
  await expect(page.getByText("0 tasks", { exact: true })).toBeVisible();
  await page.screenshot({ path: path.join(SHOTS, "empty-list.png") });
});

test("tasks with tags and due dates are found by filter and search", async ({ page }) => {
  await signUp(page, "Grace");
  await page.getByLabel("Sort").selectOption("Due soonest");
  await addTask(page, { title: "Pay rent", tags: "home, money", due: isoDay(-2) });
  await addTask(page, { title: "Write report", tags: "work", due: isoDay(0), time: "23:59" });
  await addTask(page, { title: "Plan holiday", tags: "home" });
  await expect(titles(page)).toHaveText(["Pay rent", "Write report", "Plan holiday"]); // due soonest first

  await page.getByLabel("Tag", { exact: true }).selectOption("home");
  await expect(titles(page)).toHaveText(["Pay rent", "Plan holiday"]);
  await page.getByLabel("Tag", { exact: true }).selectOption("");

  await page.getByLabel("Due", { exact: true }).selectOption("Overdue");
  await expect(titles(page)).toHaveText(["Pay rent"]);
  await expect(taskItem(page, "Pay rent").getByText("Overdue")).toBeVisible();
  await page.getByLabel("Due", { exact: true }).selectOption("Today");
  await expect(titles(page)).toHaveText(["Write report"]);
  await page.getByLabel("Due", { exact: true }).selectOption("No due date");
  await expect(titles(page)).toHaveText(["Plan holiday"]);
  await page.getByLabel("Due", { exact: true }).selectOption("Any time");

  await page.getByLabel("Search").fill("REPORT");
  await expect(titles(page)).toHaveText(["Write report"]);
  await page.getByLabel("Search").fill("money"); // search matches tags too
  await expect(titles(page)).toHaveText(["Pay rent"]);
  await page.getByLabel("Search").fill("");
  await expect(titles(page)).toHaveCount(3);
  await page.screenshot({ path: path.join(SHOTS, "task-list.png"), fullPage: true });
});

test("completing a recurring task moves it to its next date and keeps a completed copy", async ({ page }) => {
  await signUp(page, "Linus");
  const today = isoDay(0);
  await addTask(page, { title: "Water plants", due: today, repeat: "Daily" });
  const item = taskItem(page, "Water plants");
  await expect(item.getByText("↻ Daily")).toBeVisible();
  const dueToday = await item.getByTestId("due").textContent();

  await item.getByRole("checkbox", { name: "Complete “Water plants”" }).click();
  await expect(status(page)).toContainText("is next due");
  await expect(item.getByTestId("due")).not.toHaveText(dueToday ?? "");
  await expect(item.getByRole("checkbox")).not.toBeChecked(); // still open, at its next date

  await page.getByRole("button", { name: "Completed" }).click();
  const copy = taskItem(page, "Water plants");
  await expect(copy.getByText("Completed occurrence")).toBeVisible();
  await expect(copy.getByTestId("due")).toHaveText(dueToday ?? "");
  await expect(copy.getByRole("checkbox")).toBeChecked();
});

test("editing a task sets recurrence presets and a custom rule", async ({ page }) => {
  await signUp(page, "Edsger");
  await addTask(page, { title: "Team sync", due: isoDay(1) });
  await taskItem(page, "Team sync").getByRole("button", { name: "Edit “Team sync”" }).click();
  const form = page.getByRole("form", { name: "Edit task" });
  await expect(form.getByLabel("Title")).toBeFocused();
  await form.getByLabel("Repeat", { exact: true }).selectOption({ label: "Weekly on…" });
  await form.getByRole("checkbox", { name: "Mon" }).check();
  await form.getByRole("checkbox", { name: "Thu" }).check();
  await form.getByLabel("Priority").selectOption("High");
  await page.screenshot({ path: path.join(SHOTS, "edit-task.png"), fullPage: true });
  await form.getByRole("button", { name: "Save" }).click();
  await expect(taskItem(page, "Team sync").getByText("↻ Weekly on Mon, Thu")).toBeVisible();
  await expect(taskItem(page, "Team sync").getByRole("button", { name: "Edit “Team sync”" })).toBeFocused();
  await expect(taskItem(page, "Team sync").getByText("High")).toBeVisible();

  await taskItem(page, "Team sync").getByRole("button", { name: "Edit “Team sync”" }).click();
  await form.getByLabel("Repeat", { exact: true }).selectOption({ label: "Custom (RRULE)" });
  await form.getByLabel("RRULE").fill("FREQ=WEEKLY;INTERVAL=2;BYDAY=FR");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(taskItem(page, "Team sync").getByText("↻ FREQ=WEEKLY;INTERVAL=2;BYDAY=FR")).toBeVisible();

  await taskItem(page, "Team sync").getByRole("button", { name: "Edit “Team sync”" }).click();
  await form.getByLabel("RRULE").fill("FREQ=HOURLY");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("main").getByRole("alert")).toContainText("invalid recurrence rule");
});

test("two users never see each other's tasks", async ({ browser }) => {
  const alice = await browser.newContext();
  const bob = await browser.newContext();
  const a = await alice.newPage();
  const b = await bob.newPage();
  await signUp(a, "Alice");
  await signUp(b, "Bob");
  await addTask(a, { title: "Alice's secret", tags: "private" });
  await addTask(b, { title: "Bob's plan" });
  await expect(titles(a)).toHaveText(["Alice's secret"]);
  await expect(titles(b)).toHaveText(["Bob's plan"]);
  await b.getByLabel("Search").fill("secret");
  await expect(b.getByText("No tasks match.")).toBeVisible();
  await expect(b.getByLabel("Tag", { exact: true }).locator("option")).toHaveText(["Any tag"]);
  await alice.close();
  await bob.close();
});

test("signing out ends access", async ({ page }) => {
  const email = newEmail("hedy");
  await signUp(page, "Hedy", email);
  await addTask(page, { title: "Still mine" });
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.screenshot({ path: path.join(SHOTS, "sign-in.png") });
  await page.goto("/tasks");
  await expect(page).toHaveURL(/\/sign-in$/);
  expect((await page.request.get("/api/auth/token")).status()).toBe(401);

  await signIn(page, email);
  await expect(titles(page)).toHaveText(["Still mine"]);
});

test("long lists page by X-Total-Count and Link, in the chosen order", async ({ page }) => {
  await signUp(page, "Niklaus");
  // Twelve tasks straight through the API, with the token the page itself uses.
  const { token } = await (await page.request.get("/api/auth/token")).json();
  const apiUrl = `http://127.0.0.1:${process.env.E2E_API_PORT ?? 8100}`;
  for (const n of [3, 11, 7, 1, 12, 5, 9, 2, 10, 4, 8, 6]) {
    const title = `Task ${String(n).padStart(2, "0")}`;
    const created = await page.request.post(`${apiUrl}/api/tasks`, {
      headers: { Authorization: `Bearer ${token}` },
      data: { title },
    });
    expect(created.status()).toBe(201);
  }
  await page.getByLabel("Sort").selectOption("Title");
  await expect(page.getByText("Page 1 of 2 · 12 tasks")).toBeVisible();
  await expect(titles(page)).toHaveCount(10);
  await expect(titles(page).first()).toHaveText("Task 01");
  await expect(page.getByRole("button", { name: "Previous" })).toBeDisabled();
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByText("Page 2 of 2 · 12 tasks")).toBeVisible();
  await expect(titles(page)).toHaveText(["Task 11", "Task 12"]);
  await expect(page.getByRole("button", { name: "Next" })).toBeDisabled();
  await page.getByRole("button", { name: "Previous" }).click();
  await expect(titles(page).first()).toHaveText("Task 01");
});
