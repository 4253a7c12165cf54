// Recurrence presets ↔ RFC 5545 RRULEs (the API stores the rule; this only names the common ones).
export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const WEEKDAY_NAMES: Record<Weekday, string> = {
  MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun",
};

export type Preset = "none" | "daily" | "weekdays" | "weekly" | "monthly" | "custom";
export type Recurrence = { preset: Preset; days: Weekday[]; custom: string };

const WORKWEEK = "MO,TU,WE,TH,FR";

export function toRule(r: Recurrence): string | null {
  switch (r.preset) {
    case "none":
      return null;
    case "daily":
      return "FREQ=DAILY";
    case "weekdays":
      return `FREQ=WEEKLY;BYDAY=${WORKWEEK}`;
    case "weekly":
      return r.days.length ? `FREQ=WEEKLY;BYDAY=${r.days.join(",")}` : "FREQ=WEEKLY";
    case "monthly":
      return "FREQ=MONTHLY";
    case "custom":
      return r.custom.trim() || null;
  }
}

export function fromRule(rule: string | null | undefined): Recurrence {
  const none: Recurrence = { preset: "none", days: [], custom: "" };
  if (!rule) return none;
  if (rule === "FREQ=DAILY") return { ...none, preset: "daily" };
  if (rule === "FREQ=MONTHLY") return { ...none, preset: "monthly" };
  if (rule === `FREQ=WEEKLY;BYDAY=${WORKWEEK}`) return { ...none, preset: "weekdays" };
  if (rule === "FREQ=WEEKLY") return { ...none, preset: "weekly" };
  const weekly = /^FREQ=WEEKLY;BYDAY=((?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:MO|TU|WE|TH|FR|SA|SU))*)$/.exec(rule);
  if (weekly?.[1]) return { ...none, preset: "weekly", days: weekly[1].split(",") as Weekday[] };
  return { ...none, preset: "custom", custom: rule };
}

/** A short human description for the task list. */
export function describeRule(rule: string): string {
  const r = fromRule(rule);
  switch (r.preset) {
    case "daily":
      return "Daily";
    case "weekdays":
      return "Weekdays";
    case "weekly":
      return r.days.length ? `Weekly on ${r.days.map((d) => WEEKDAY_NAMES[d]).join(", ")}` : "Weekly";
    case "monthly":
      return "Monthly";
    default:
      return rule;
  }
}
