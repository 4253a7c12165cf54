import { expect, type Browser, type BrowserContext, type Page } from "@playwright/test";
import path from "node:path";

export const SHOTS = path.resolve("screenshots") // Playwright runs from frontend/;

let counter = 0;
export function newEmail(who: string): string {
  counter += 1;
  return `${who}-${Date.now()}-${counter}@example.com`;
}

export async function signUp(page: Page, name: string, email = newEmail(name.toLowerCase())): Promise<string> {
  await page.goto("/sign-up");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("heading", { name: "Tasks" })).toBeVisible();
  return email;
}

export async function signIn(page: Page, email: string): Promise<void> {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Tasks" })).toBeVisible();
}

/** The list follows /api/events: wait until the stream is open before changing things elsewhere. */
export async function waitLive(page: Page): Promise<void> {
  await expect(page.getByTestId("live")).toHaveText("Live");
}

export type NewTask = { title: string; tags?: string; due?: string; time?: string; repeat?: string; remindAt?: string };

export async function addTask(page: Page, task: NewTask): Promise<void> {
  const form = page.getByRole("form", { name: "New task" });
  await form.getByLabel("Title").fill(task.title);
  if (task.tags || task.due || task.repeat || task.remindAt) {
    const details = form.locator("details");
    if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open))) await form.getByText("More options").click();
    if (task.due) await form.getByLabel("Due date").fill(task.due);
    if (task.time) await form.getByLabel("Due time").fill(task.time);
    if (task.repeat) await form.getByLabel("Repeat", { exact: true }).selectOption({ label: task.repeat });
    if (task.remindAt) await form.getByLabel("Remind me at").fill(task.remindAt);
    if (task.tags) await form.getByLabel("Tags").fill(task.tags);
  }
  await form.getByRole("button", { name: "Add task" }).click();
  await expect(status(page)).toHaveText(`Added “${task.title}”.`);
  await expect(form.getByLabel("Title")).toHaveValue("");
}

/** The app's own announcements (drag and drop has live regions of its own). */
export function status(page: Page) {
  return page.getByTestId("announcer");
}

export function taskItem(page: Page, title: string) {
  return page.getByRole("list", { name: "Tasks" }).getByRole("listitem", { name: title, exact: true });
}

export function titles(page: Page) {
  return page.getByRole("list", { name: "Tasks" }).locator(".title");
}

/** A second browser context, signed in as the same user (another device). */
export async function secondDevice(browser: Browser, email: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, email);
  return { context, page };
}

export function isoDay(offsetDays: number): string {
  const d = new Date();
  d.setDate(d.getDate() + offsetDays);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
