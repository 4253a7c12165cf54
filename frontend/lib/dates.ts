// Dates as the browser shows them: the user's zone by default.

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export function timeZones(): string[] {
  return typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["UTC"];
}

/** YYYY-MM-DD of a Date in the browser's zone. */
export function localDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function addDays(day: string, days: number): string {
  const d = new Date(`${day}T12:00:00`);
  d.setDate(d.getDate() + days);
  return localDate(d);
}

/** An instant (ISO with offset) → the value of an <input type="datetime-local"> in the browser's zone. */
export function toLocalInput(instant: string | null | undefined): string {
  if (!instant) return "";
  const d = new Date(instant);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${localDate(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local value (browser's zone) → an instant with a UTC offset, as the API wants. */
export function fromLocalInput(value: string): string | null {
  return value ? new Date(value).toISOString() : null;
}

export function formatDue(date: string, time: string | null | undefined): string {
  const d = new Date(`${date}T${time ?? "12:00"}`);
  const day = d.toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric", year: "numeric" });
  return time ? `${day}, ${time.slice(0, 5)}` : day;
}
