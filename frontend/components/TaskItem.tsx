"use client";
import { useEffect, useRef } from "react";
import type { Task } from "@/lib/api";
import { formatDue } from "@/lib/dates";
import { describeRule } from "@/lib/recurrence";

type Props = {
  task: Task;
  onToggle: (task: Task, completed: boolean) => void;
  onEdit: (task: Task) => void;
  onDelete: (task: Task) => void;
  /** Just closed its edit form: keyboard focus comes back to its Edit button. */
  returnFocus?: boolean;
  onFocusReturned?: () => void;
};

export function TaskItem({ task, onToggle, onEdit, onDelete, returnFocus = false, onFocusReturned }: Props) {
  const editButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!returnFocus) return;
    editButton.current?.focus();
    onFocusReturned?.(); // once: a later remount (another tab, page) must not take focus
  }, [returnFocus, onFocusReturned]);
  const overdue = !task.completed && task.due_at !== null && new Date(task.due_at) < new Date();
  return (
    <li className={`task${task.completed ? " done" : ""}`} data-testid="task" aria-label={task.title}>
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
        <button ref={editButton} type="button" onClick={() => onEdit(task)} aria-label={`Edit “${task.title}”`}>
          Edit
        </button>
        <button type="button" onClick={() => onDelete(task)} aria-label={`Delete “${task.title}”`}>
          Delete
        </button>
      </div>
    </li>
  );
}
