import { expect, test } from "@playwright/test";
import path from "node:path";
import { addTask, isoDay, SHOTS, signUp, taskItem, titles } from "./helpers";

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

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: path.join(SHOTS, "phone.png"), fullPage: true });
});
