"use client";
import { Field } from "./Field";
import type { Tag, TaskQuery } from "@/lib/api";
import { addDays, localDate } from "@/lib/dates";

export type Status = "all" | "active" | "completed";
export type DueFilter = "any" | "overdue" | "today" | "week" | "none";
export type Sort = NonNullable<TaskQuery["sort"]>;
export type Filters = { status: Status; search: string; tag: string; due: DueFilter; sort: Sort; page: number };

export const PAGE_SIZE = 10;
export const INITIAL_FILTERS: Filters = { status: "active", search: "", tag: "", due: "any", sort: "position", page: 1 };

/** The query for one page of the list, or (in manual order) for every task of it, page by page. */
export function toQuery(f: Filters, listId: string): TaskQuery {
  const q: TaskQuery =
    f.sort === "position"
      ? { list_id: [listId], status: "all", sort: "position", page: 1, limit: 100 }
      : { list_id: [listId], status: f.status, sort: f.sort, page: f.page, limit: PAGE_SIZE };
  if (f.search.trim()) q.search = f.search.trim();
  if (f.tag) q.tag = [f.tag];
  const today = localDate(new Date());
  if (f.due === "overdue") q.overdue = true;
  if (f.due === "today") Object.assign(q, { due_after: today, due_before: today });
  if (f.due === "week") Object.assign(q, { due_after: today, due_before: addDays(today, 6) });
  if (f.due === "none") q.has_due = false;
  return q;
}

const TABS: [Status, string][] = [
  ["active", "Active"],
  ["completed", "Completed"],
  ["all", "All"],
];

type Props = { filters: Filters; tags: Tag[]; onChange: (change: Partial<Filters>) => void };

export function FilterBar({ filters, tags, onChange }: Props) {
  const set = (change: Partial<Filters>) => onChange({ page: 1, ...change });
  return (
    <section className="filters" aria-label="Filters">
      <div role="group" aria-label="Status" className="tabs">
        {TABS.map(([value, label]) => (
          <button
            key={value}
            type="button"
            aria-pressed={filters.status === value}
            onClick={() => set({ status: value })}
          >
            {label}
          </button>
        ))}
      </div>
      <div className="row">
        <Field label="Search">
          <input type="search" value={filters.search} onChange={(e) => set({ search: e.target.value })} />
        </Field>
        <Field label="Tag">
          <select value={filters.tag} onChange={(e) => set({ tag: e.target.value })}>
            <option value="">Any tag</option>
            {tags.map((t) => (
              <option key={t.name} value={t.name}>
                {t.name} ({t.count})
              </option>
            ))}
          </select>
        </Field>
        <Field label="Due">
          <select value={filters.due} onChange={(e) => set({ due: e.target.value as DueFilter })}>
            <option value="any">Any time</option>
            <option value="overdue">Overdue</option>
            <option value="today">Today</option>
            <option value="week">Next 7 days</option>
            <option value="none">No due date</option>
          </select>
        </Field>
        <Field label="Sort">
          <select value={filters.sort} onChange={(e) => set({ sort: e.target.value as Sort })}>
            <option value="position">Manual order</option>
            <option value="due">Due soonest</option>
            <option value="-created_at">Newest</option>
            <option value="created_at">Oldest</option>
            <option value="priority">Priority</option>
            <option value="title">Title</option>
            <option value="-updated_at">Recently changed</option>
          </select>
        </Field>
      </div>
    </section>
  );
}
