import { expect, test, type Locator, type Page } from "@playwright/test";
import path from "node:path";
import { addTask, newEmail, secondDevice, SHOTS, signUp, status, taskItem, titles, waitLive } from "./helpers";

test.use({ viewport: { width: 1280, height: 1000 } });

function sidebar(page: Page) {
  return page.getByRole("navigation", { name: "Lists" });
}

function listNames(page: Page) {
  return sidebar(page).locator(".list-name");
}

async function createList(page: Page, name: string): Promise<void> {
  const form = page.getByRole("form", { name: "New list" });
  await form.getByLabel("List name").fill(name);
  await form.getByRole("button", { name: "Add list" }).click();
  await expect(status(page)).toHaveText(`Created the list “${name}”.`);
  await expect(page.getByRole("heading", { name, exact: true })).toBeVisible(); // the new list is selected
}

async function openList(page: Page, name: string): Promise<void> {
  await sidebar(page).getByRole("button", { name, exact: true }).click();
  await expect(page.getByRole("heading", { name, exact: true })).toBeVisible();
}

/** A real pointer drag of `handle` onto `target` (dnd-kit starts dragging after 5 px). */
async function drag(page: Page, handle: Locator, target: Locator): Promise<void> {
  await target.scrollIntoViewIfNeeded();
  await handle.scrollIntoViewIfNeeded();
  const from = await handle.boundingBox();
  const to = await target.boundingBox();
  if (!from || !to) throw new Error("drag: not on the page");
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2 + 8, { steps: 4 });
  await page.mouse.move(from.x + from.width / 2, to.y + to.height / 2, { steps: 12 });
  await page.mouse.up();
}

/**
 * The keyboard way, for people who cannot drag: Space picks up, each arrow moves one place, Space
 * puts down. Like a screen-reader user, it waits to hear each step: `places` are the positions
 * announced after each arrow ("2 of 4"); `null` is a press that must not move it (an edge).
 */
async function moveByKeyboard(
  page: Page,
  name: string,
  handle: Locator,
  key: "ArrowUp" | "ArrowDown",
  places: (string | null)[],
  end: "Space" | "Escape" = "Space",
): Promise<void> {
  await handle.focus();
  await page.keyboard.press("Space");
  await expect(handle).toHaveAttribute("aria-pressed", "true"); // picked up
  for (const place of places) {
    await page.keyboard.press(key);
    if (place) await expect(page.getByText(`“${name}” is now at position ${place}.`, { exact: true })).toBeAttached();
  }
  await page.keyboard.press(end);
}

test("the sidebar: lists created, renamed and coloured, reordered, archived and deleted", async ({ page }) => {
  await signUp(page, "Ada");
  await expect(listNames(page)).toHaveText(["Inbox"]);
  await createList(page, "Work");
  await createList(page, "Home");
  await expect(listNames(page)).toHaveText(["Inbox", "Work", "Home"]);
  await expect(sidebar(page).getByRole("button", { name: "Home", exact: true })).toHaveAttribute("aria-current", "page");
  await addTask(page, { title: "Water the garden" });
  await openList(page, "Inbox");
  await expect(page.getByText("No tasks yet.")).toBeVisible(); // each list has its own tasks
  // The Inbox cannot be renamed, archived, deleted or moved.
  await expect(page.getByRole("button", { name: "Rename" })).toHaveCount(0);
  await expect(sidebar(page).getByRole("button", { name: "Reorder list “Inbox”" })).toHaveCount(0);

  await openList(page, "Home");
  await expect(titles(page)).toHaveText(["Water the garden"]);
  await page.getByRole("button", { name: "Rename" }).click();
  const form = page.getByRole("form", { name: "Edit list" });
  await form.getByLabel("Name").fill("House");
  await form.getByLabel("Colour", { exact: true }).check();
  await form.getByLabel("Colour value").fill("#1e8e3e");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("heading", { name: "House" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Rename" })).toBeFocused();
  await expect(sidebar(page).getByRole("button", { name: "House" }).locator(".dot")).toHaveCSS(
    "background-color",
    "rgb(30, 142, 62)",
  );
  // 101 characters: the API's answer is shown, nothing changes.
  await page.getByRole("button", { name: "Rename" }).click();
  await form.getByLabel("Name").evaluate((input) => input.removeAttribute("maxlength"));
  await form.getByLabel("Name").fill("x".repeat(101));
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("main").getByRole("alert")).toHaveText("name: String should have at most 100 characters");
  await form.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("heading", { name: "House" })).toBeVisible();

  // Reorder: drag House above Work; then Work back down from the keyboard. Kept after a reload.
  await drag(page, sidebar(page).getByRole("button", { name: "Reorder list “House”" }), sidebar(page).getByRole("button", { name: "Work", exact: true }));
  await expect(listNames(page)).toHaveText(["Inbox", "House", "Work"]);
  await page.reload();
  await expect(listNames(page)).toHaveText(["Inbox", "House", "Work"]);
  await moveByKeyboard(page, "Work", sidebar(page).getByRole("button", { name: "Reorder list “Work”" }), "ArrowUp", ["2 of 3"]);
  await expect(listNames(page)).toHaveText(["Inbox", "Work", "House"]);
  await expect(status(page)).toHaveText("Moved the list “Work” to position 2.");
  // Never above the Inbox.
  await moveByKeyboard(page, "Work", sidebar(page).getByRole("button", { name: "Reorder list “Work”" }), "ArrowUp", [null, null]);
  await page.reload();
  await expect(listNames(page)).toHaveText(["Inbox", "Work", "House"]);
  await page.screenshot({ path: path.join(SHOTS, "lists.png"), fullPage: true });

  // Archive: out of the sidebar until archived lists are shown; its tasks are kept.
  await openList(page, "House");
  await page.getByRole("button", { name: "Archive" }).click();
  await expect(listNames(page)).toHaveText(["Inbox", "Work"]);
  await expect(page.getByRole("heading", { name: "Inbox" })).toBeVisible();
  await page.getByLabel("Show archived lists").check();
  await expect(listNames(page)).toHaveText(["Inbox", "Work", "House (archived)"]);
  await sidebar(page).getByRole("button", { name: "House (archived)" }).click();
  await expect(titles(page)).toHaveText(["Water the garden"]);
  await page.getByRole("button", { name: "Unarchive" }).click();
  await expect(listNames(page)).toHaveText(["Inbox", "Work", "House"]);

  // Delete asks first, says how many tasks go with it, and Cancel keeps everything.
  await page.getByRole("button", { name: "Delete list" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("Delete “House” and its 1 task?");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(titles(page)).toHaveText(["Water the garden"]);
  await page.getByRole("button", { name: "Delete list" }).click();
  await dialog.getByRole("button", { name: "Delete" }).click();
  await expect(status(page)).toHaveText("Deleted the list “House” and its tasks.");
  await expect(listNames(page)).toHaveText(["Inbox", "Work"]);
  await expect(page.getByRole("heading", { name: "Inbox" })).toBeVisible();
});

test("subtasks: added under their parent, indented, counted, collapsed and expanded", async ({ page }) => {
  await signUp(page, "Grace");
  await addTask(page, { title: "Plan the trip" });
  await addTask(page, { title: "Pack" });
  await taskItem(page, "Plan the trip").getByRole("button", { name: "Add a subtask to “Plan the trip”" }).click();
  const form = page.getByRole("form", { name: "New subtask of “Plan the trip”" });
  for (const title of ["Book flights", "Book hotel"]) {
    await form.getByLabel("Subtask title").fill(title);
    await form.getByRole("button", { name: "Add subtask" }).click();
    await expect(status(page)).toHaveText(`Added the subtask “${title}” to “Plan the trip”.`);
  }
  await form.getByRole("button", { name: "Done" }).click();
  await taskItem(page, "Book hotel").getByRole("button", { name: "Add a subtask to “Book hotel”" }).click();
  await page.getByRole("form", { name: "New subtask of “Book hotel”" }).getByLabel("Subtask title").fill("Compare prices");
  await page.keyboard.press("Enter");
  await expect(titles(page)).toHaveText(["Plan the trip", "Book flights", "Book hotel", "Compare prices", "Pack"]);
  const trip = page.getByRole("list", { name: "Subtasks of “Plan the trip”" });
  await expect(trip.locator(".title")).toHaveText(["Book flights", "Book hotel", "Compare prices"]);
  await expect(page.getByRole("list", { name: "Subtasks of “Book hotel”" }).locator(".title")).toHaveText(["Compare prices"]);
  const x = async (title: string) => (await taskItem(page, title).locator(".title").first().boundingBox())?.x ?? 0;
  expect(await x("Book flights")).toBeGreaterThan(await x("Plan the trip"));
  expect(await x("Compare prices")).toBeGreaterThan(await x("Book hotel"));

  // A fourth level is the last: it offers no subtasks of its own.
  await taskItem(page, "Compare prices").getByRole("button", { name: "Add a subtask to “Compare prices”" }).click();
  await page.getByRole("form", { name: "New subtask of “Compare prices”" }).getByLabel("Subtask title").fill("Read reviews");
  await page.keyboard.press("Enter");
  await expect(taskItem(page, "Read reviews")).toBeVisible();
  await expect(taskItem(page, "Read reviews").getByRole("button", { name: /Add a subtask/ })).toHaveCount(0);

  // Done/total of the direct subtasks; a done subtask leaves the Active view, the count keeps it.
  const count = page.getByRole("button", { name: /^Subtasks of “Plan the trip”/ });
  await expect(count).toHaveAccessibleName("Subtasks of “Plan the trip”: 0 of 2 done");
  await page.getByRole("checkbox", { name: "Complete “Book flights”" }).click();
  await expect(count).toHaveAccessibleName("Subtasks of “Plan the trip”: 1 of 2 done");
  await expect(count).toHaveText("▾ 1/2");
  await expect(taskItem(page, "Book flights")).toHaveCount(0);
  await page.screenshot({ path: path.join(SHOTS, "subtasks.png"), fullPage: true });

  await count.click();
  await expect(count).toHaveAttribute("aria-expanded", "false");
  await expect(taskItem(page, "Book hotel")).toBeHidden();
  await expect(titles(page)).toHaveText(["Plan the trip", "Pack"]);
  await count.click();
  await expect(count).toHaveAttribute("aria-expanded", "true");
  await expect(titles(page)).toHaveText(["Plan the trip", "Book hotel", "Compare prices", "Read reviews", "Pack"]);

  // Completing the parent completes its open subtasks, at every level.
  await page.getByRole("checkbox", { name: "Complete “Plan the trip”" }).click();
  await expect(titles(page)).toHaveText(["Pack"]);
  await page.getByRole("button", { name: "Completed" }).click();
  await expect(titles(page)).toHaveText(["Plan the trip", "Book flights", "Book hotel", "Compare prices", "Read reviews"]);
});

test("manual order: tasks reordered by dragging and from the keyboard, subtasks only among their siblings", async ({ page }) => {
  await signUp(page, "Edsger");
  for (const title of ["Alpha", "Bravo", "Charlie", "Delta"]) await addTask(page, { title });
  const handle = (title: string) => page.getByRole("button", { name: `Reorder “${title}”` });
  await drag(page, handle("Delta"), taskItem(page, "Alpha"));
  await expect(titles(page)).toHaveText(["Delta", "Alpha", "Bravo", "Charlie"]);
  await expect(status(page)).toHaveText("Moved “Delta” before “Alpha”.");
  await page.reload();
  await expect(titles(page)).toHaveText(["Delta", "Alpha", "Bravo", "Charlie"]);

  await moveByKeyboard(page, "Alpha", handle("Alpha"), "ArrowDown", ["3 of 4", "4 of 4"]);
  await expect(titles(page)).toHaveText(["Delta", "Bravo", "Charlie", "Alpha"]);
  await expect(status(page)).toHaveText("Moved “Alpha” after “Charlie”.");
  // dnd-kit's screen-reader announcement, in its own live region.
  await expect(page.getByText("“Alpha” was put down at position 4 of 4.")).toBeAttached();
  await page.reload();
  await expect(titles(page)).toHaveText(["Delta", "Bravo", "Charlie", "Alpha"]);

  // Escape puts it back where it was.
  await moveByKeyboard(page, "Bravo", handle("Bravo"), "ArrowDown", ["3 of 4"], "Escape");
  await expect(page.getByText("Moving cancelled: “Bravo” went back to where it was.")).toBeAttached();
  await expect(titles(page)).toHaveText(["Delta", "Bravo", "Charlie", "Alpha"]);

  // Subtasks move among their siblings only, and a task moves with its subtasks.
  await taskItem(page, "Charlie").getByRole("button", { name: "Add a subtask to “Charlie”" }).click();
  const form = page.getByRole("form", { name: "New subtask of “Charlie”" });
  for (const title of ["one", "two", "three"]) {
    await form.getByLabel("Subtask title").fill(title);
    await form.getByRole("button", { name: "Add subtask" }).click();
    await expect(status(page)).toHaveText(`Added the subtask “${title}” to “Charlie”.`);
  }
  await form.getByRole("button", { name: "Done" }).click();
  // First among its siblings, further presses do not take it out of its parent.
  await moveByKeyboard(page, "three", handle("three"), "ArrowUp", ["2 of 3", "1 of 3", null, null, null]);
  await expect(titles(page)).toHaveText(["Delta", "Bravo", "Charlie", "three", "one", "two", "Alpha"]);
  await moveByKeyboard(page, "Charlie", handle("Charlie"), "ArrowUp", ["2 of 4", "1 of 4"]);
  await expect(titles(page)).toHaveText(["Charlie", "three", "one", "two", "Delta", "Bravo", "Alpha"]);
  await page.reload();
  await expect(titles(page)).toHaveText(["Charlie", "three", "one", "two", "Delta", "Bravo", "Alpha"]);
  await page.screenshot({ path: path.join(SHOTS, "manual-order.png"), fullPage: true });
});

test("a task moves to another list with its subtasks", async ({ page }) => {
  await signUp(page, "Barbara");
  await createList(page, "Errands");
  await openList(page, "Inbox");
  await addTask(page, { title: "Buy milk" });
  await addTask(page, { title: "Call mum" });
  await taskItem(page, "Buy milk").getByRole("button", { name: "Add a subtask to “Buy milk”" }).click();
  await page.getByRole("form", { name: "New subtask of “Buy milk”" }).getByLabel("Subtask title").fill("Oat milk");
  await page.keyboard.press("Enter");
  await expect(titles(page)).toHaveText(["Buy milk", "Oat milk", "Call mum"]);

  await page.getByLabel("Move “Buy milk” to list").selectOption({ label: "Errands" });
  await expect(status(page)).toHaveText("Moved “Buy milk” to “Errands”.");
  await expect(titles(page)).toHaveText(["Call mum"]);
  await openList(page, "Errands");
  await expect(titles(page)).toHaveText(["Buy milk", "Oat milk"]);
  await expect(page.getByRole("list", { name: "Subtasks of “Buy milk”" }).locator(".title")).toHaveText(["Oat milk"]);

  // A subtask on its own goes to the top level of the other list.
  await page.getByLabel("Move “Oat milk” to list").selectOption({ label: "Inbox" });
  await expect(status(page)).toHaveText("Moved “Oat milk” to “Inbox”.");
  await openList(page, "Inbox");
  await expect(titles(page)).toHaveText(["Call mum", "Oat milk"]);
});

test("another device's list changes reach the sidebar live", async ({ page, browser }) => {
  const email = newEmail("margaret");
  await signUp(page, "Margaret", email);
  const other = await secondDevice(browser, email);
  await waitLive(page);
  await waitLive(other.page);
  await createList(page, "Moon");
  await expect(listNames(other.page)).toHaveText(["Inbox", "Moon"]);
  await page.getByRole("button", { name: "Rename" }).click();
  await page.getByRole("form", { name: "Edit list" }).getByLabel("Name").fill("Mars");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(listNames(other.page)).toHaveText(["Inbox", "Mars"]);
  await openList(other.page, "Mars");
  await page.getByRole("button", { name: "Delete list" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(listNames(other.page)).toHaveText(["Inbox"]);
  await expect(other.page.getByRole("heading", { name: "Inbox" })).toBeVisible(); // its list went away
  await other.context.close();
});
