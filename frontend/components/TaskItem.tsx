"use client";
import { useEffect, useRef, type CSSProperties, type ReactNode, type Ref } from "react";
import type { Task, TaskList } from "@/lib/api";
import { formatDue } from "@/lib/dates";
import { describeRule } from "@/lib/recurrence";

/** A task's subtasks, as its row shows them: the done/total count and the collapse button. */
export type SubtaskSummary = { done: number; total: number; collapsed: boolean; onToggle: () => void };

type Props = {
  task: Task;
  onToggle: (task: Task, completed: boolean) => void;
  onEdit: (task: Task) => void;
  onDelete: (task: Task) => void;
  /** Just closed its edit form: keyboard focus comes back to its Edit button. */
  returnFocus?: boolean;
  onFocusReturned?: () => void;
  /** The other lists it can move to (none: no "Move to list" choice). */
  moveTargets?: TaskList[];
  onMoveToList?: (task: Task, list: TaskList) => void;
  /** The drag handle, in manual order. */
  handle?: ReactNode;
  subtasks?: SubtaskSummary;
  onAddSubtask?: (task: Task) => void;
  /** Shown instead of the row (the edit form). */
  replaceRow?: ReactNode;
  /** Below the row, inside the item: its subtasks and the new-subtask form. */
  children?: ReactNode;
  itemRef?: Ref<HTMLLIElement>;
  style?: CSSProperties;
  className?: string;
};

export function TaskItem(props: Props) {
  const { task, onToggle, onEdit, onDelete, returnFocus = false, onFocusReturned, subtasks } = props;
  const editButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!returnFocus) return;
    editButton.current?.focus();
    onFocusReturned?.(); // once: a later remount (another tab, page) must not take focus
  }, [returnFocus, onFocusReturned]);
  const overdue = !task.completed && task.due_at !== null && new Date(task.due_at) < new Date();
  const targets = props.moveTargets ?? [];
  return (
    <li ref={props.itemRef} style={props.style} className={`task-node ${props.className ?? ""}`} aria-label={task.title}>
      {props.replaceRow ?? (
        <div className={`task${task.completed ? " done" : ""}`} data-testid="task">
          {props.handle}
          <input
            type="checkbox"
            checked={task.completed}
            onChange={(e) => onToggle(task, e.target.checked)}
            aria-label={task.completed ? `Reopen “${task.title}”` : `Complete “${task.title}”`}
          />
          <div className="body">
            <span className="title">{task.title}</span>
            {task.description && <p className="description">{task.description}</p>}
            <p className="meta">
              {subtasks && subtasks.total > 0 && (
                <button
                  type="button"
                  className="subtask-toggle"
                  aria-expanded={!subtasks.collapsed}
                  aria-label={`Subtasks of “${task.title}”: ${subtasks.done} of ${subtasks.total} done`}
                  onClick={subtasks.onToggle}
                >
                  {subtasks.collapsed ? "▸" : "▾"} {subtasks.done}/{subtasks.total}
                </button>
              )}
              <span className={`badge priority-${task.priority.toLowerCase()}`}>{task.priority}</span>
              {task.due_date && (
                <span className="due" data-testid="due">
                  Due {formatDue(task.due_date, task.due_time)}
                </span>
              )}
              {overdue && <span className="badge overdue">Overdue</span>}
              {task.recurrence && <span className="badge">↻ {describeRule(task.recurrence)}</span>}
              {task.series_id && <span className="badge">Completed occurrence</span>}
              {task.remind_at && !task.reminded_at && !task.completed && (
                <span>⏰ {new Date(task.remind_at).toLocaleString()}</span>
              )}
              {task.tags.map((t) => (
                <span key={t} className="tag">
                  #{t}
                </span>
              ))}
            </p>
          </div>
          <div className="item-actions">
            {props.onAddSubtask && (
              <button type="button" onClick={() => props.onAddSubtask?.(task)} aria-label={`Add a subtask to “${task.title}”`}>
                + Subtask
              </button>
            )}
            {targets.length > 0 && props.onMoveToList && (
              <select
                aria-label={`Move “${task.title}” to list`}
                value=""
                onChange={(e) => {
                  const list = targets.find((l) => l.id === e.target.value);
                  if (list) props.onMoveToList?.(task, list);
                }}
              >
                <option value="">Move to…</option>
                {targets.map((l) => (
                  <option key={l.id} value={l.id}>
                    {l.name}
                  </option>
                ))}
              </select>
            )}
            <button ref={editButton} type="button" onClick={() => onEdit(task)} aria-label={`Edit “${task.title}”`}>
              Edit
            </button>
            <button type="button" onClick={() => onDelete(task)} aria-label={`Delete “${task.title}”`}>
              Delete
            </button>
          </div>
        </div>
      )}
      {props.children}
    </li>
  );
}
