"use client";
import { Field } from "./Field";
import { useId, useState } from "react";
import type { Task, TaskCreate } from "@/lib/api";
import { browserTimeZone, fromLocalInput, timeZones, toLocalInput } from "@/lib/dates";
import { fromRule, toRule, WEEKDAY_NAMES, WEEKDAYS, type Preset, type Weekday } from "@/lib/recurrence";

type Priority = NonNullable<TaskCreate["priority"]>;
// The generated type lists the zones the backend knows; the browser's list is checked there (422).
type TimeZone = NonNullable<TaskCreate["time_zone"]>;

/** What the form submits: a full description of the task (create body, or every patchable member). */
export type TaskFields = Required<
  Pick<TaskCreate, "title" | "description" | "priority" | "due_date" | "due_time" | "time_zone" | "recurrence" | "remind_at" | "tags">
>;

type Props = {
  label: string;
  task?: Task;
  submitLabel: string;
  onSubmit: (fields: TaskFields) => Promise<boolean>;
  onCancel?: () => void;
  children?: React.ReactNode;
};

export function TaskForm({ label, task, submitLabel, onSubmit, onCancel, children }: Props) {
  const id = useId();
  const initialRule = fromRule(task?.recurrence);
  const [preset, setPreset] = useState<Preset>(initialRule.preset);
  const [days, setDays] = useState<Weekday[]>(initialRule.days);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const editing = task !== undefined;

  async function submit(form: FormData) {
    const text = (name: string) => String(form.get(name) ?? "").trim();
    const dueDate = text("due_date") || null;
    const recurrence = toRule({ preset, days, custom: text("rrule") });
    if (recurrence && !dueDate) {
      setProblem("A repeating task needs a due date.");
      return;
    }
    if (text("due_time") && !dueDate) {
      setProblem("A due time needs a due date.");
      return;
    }
    setProblem(null);
    const fields: TaskFields = {
      title: text("title"),
      description: text("description") || null,
      priority: (text("priority") || "Medium") as Priority,
      due_date: dueDate,
      due_time: dueDate ? text("due_time") || null : null,
      time_zone: dueDate ? ((text("time_zone") || browserTimeZone()) as TimeZone) : null,
      recurrence,
      remind_at: fromLocalInput(text("remind_at")),
      tags: text("tags").split(",").map((t) => t.trim()).filter(Boolean),
    };
    setBusy(true);
    const done = await onSubmit(fields);
    setBusy(false);
    if (done && !editing) {
      setPreset("none");
      setDays([]);
    }
    return done;
  }

  const more = (
    <>
      <Field label="Description">
        <textarea name="description" rows={2} maxLength={5000} defaultValue={task?.description ?? ""} />
      </Field>
      <div className="row">
        <Field label="Priority">
          <select name="priority" defaultValue={task?.priority ?? "Medium"}>
            <option>High</option>
            <option>Medium</option>
            <option>Low</option>
          </select>
        </Field>
        <Field label="Due date">
          <input name="due_date" type="date" defaultValue={task?.due_date ?? ""} />
        </Field>
        <Field label="Due time">
          <input name="due_time" type="time" defaultValue={task?.due_time?.slice(0, 5) ?? ""} />
        </Field>
        <Field label="Time zone">
          <input
            name="time_zone"
            list={`${id}-zones`}
            defaultValue={task?.time_zone ?? browserTimeZone()}
            autoComplete="off"
          />
        </Field>
        <datalist id={`${id}-zones`}>
          {timeZones().map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
      </div>
      <div className="row">
        <Field label="Repeat">
          <select name="repeat" value={preset} onChange={(e) => setPreset(e.target.value as Preset)}>
            <option value="none">Does not repeat</option>
            <option value="daily">Daily</option>
            <option value="weekdays">Every weekday (Mon–Fri)</option>
            <option value="weekly">Weekly on…</option>
            <option value="monthly">Monthly</option>
            <option value="custom">Custom (RRULE)</option>
          </select>
        </Field>
        {preset === "custom" && (
          <Field label="RRULE">
            <input
              name="rrule"
              defaultValue={initialRule.custom}
              placeholder="FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"
              required
            />
          </Field>
        )}
        <Field label="Remind me at">
          <input name="remind_at" type="datetime-local" defaultValue={toLocalInput(task?.remind_at)} />
        </Field>
      </div>
      {preset === "weekly" && (
        <fieldset className="days">
          <legend>Repeat on</legend>
          {WEEKDAYS.map((d) => (
            <label key={d} className="inline">
              <input
                type="checkbox"
                checked={days.includes(d)}
                onChange={(e) => setDays(e.target.checked ? [...days, d] : days.filter((x) => x !== d))}
              />
              {WEEKDAY_NAMES[d]}
            </label>
          ))}
        </fieldset>
      )}
      <Field label="Tags" hint="(comma-separated)">
        <input name="tags" defaultValue={task?.tags.join(", ") ?? ""} placeholder="work, home" />
      </Field>
    </>
  );

  return (
    <form
      className="task-form"
      aria-label={label}
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        void submit(new FormData(form)).then((done) => {
          if (done && !editing) form.reset();
        });
      }}
    >
      <Field label="Title">
        <input name="title" required maxLength={200} defaultValue={task?.title ?? ""} autoFocus={editing} />
      </Field>
      {editing ? (
        more
      ) : (
        <details>
          <summary>More options</summary>
          {more}
        </details>
      )}
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
      {children}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
