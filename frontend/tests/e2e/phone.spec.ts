import { expect, test } from "@playwright/test";
import path from "node:path";
import { addTask, isoDay, SHOTS, signUp, status, taskItem, titles } from "./helpers";

test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });

test("on a phone-sized screen everything fits and works from the keyboard", async ({ page }) => {
  await signUp(page, "Mary");
  await addTask(page, { title: "Buy stamps", tags: "errands", due: isoDay(1), time: "09:30" });

  // Keyboard only: the title field, Enter to add; the checkbox by Tab and Space.
  const title = page.getByRole("form", { name: "New task" }).getByLabel("Title");
  await title.focus();
  await page.keyboard.type("Post the letter");
  await page.keyboard.press("Enter");
  await expect(titles(page)).toHaveText(["Buy stamps", "Post the letter"]);
  const checkbox = taskItem(page, "Post the letter").getByRole("checkbox");
  await checkbox.focus();
  await page.keyboard.press("Space");
  await expect(titles(page)).toHaveText(["Buy stamps"]);

  // Lists in a row above the tasks (scrolling sideways on their own), subtasks indented.
  for (const name of ["Groceries", "Work projects", "Holiday"]) {
    const form = page.getByRole("form", { name: "New list" });
    await form.getByLabel("List name").fill(name);
    await form.getByRole("button", { name: "Add list" }).click();
    await expect(status(page)).toHaveText(`Created the list “${name}”.`);
  }
  await page.getByRole("navigation", { name: "Lists" }).getByRole("button", { name: "Inbox" }).click();
  await taskItem(page, "Buy stamps").getByRole("button", { name: "Add a subtask to “Buy stamps”" }).click();
  await page.getByRole("form", { name: "New subtask of “Buy stamps”" }).getByLabel("Subtask title").fill("Two first class");
  await page.keyboard.press("Enter");
  await expect(titles(page)).toHaveText(["Buy stamps", "Two first class"]);
  await page.getByRole("form", { name: "New subtask of “Buy stamps”" }).getByRole("button", { name: "Done" }).click();

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: path.join(SHOTS, "phone.png"), fullPage: true });
});
