"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { createApi, errorMessage, parseLink, type Tag, type Task } from "@/lib/api";
import { authClient } from "@/lib/auth-client";
import { formatDue } from "@/lib/dates";
import { useLiveEvents } from "@/lib/live";
import { forgetToken } from "@/lib/token";
import { FilterBar, INITIAL_FILTERS, PAGE_SIZE, toQuery, type Filters } from "./Filters";
import { Reminders } from "./Reminders";
import { TaskForm, type TaskFields } from "./TaskForm";
import { TaskItem } from "./TaskItem";

type Conflict = { fields: TaskFields; etag: string };

export function TaskApp({ apiUrl, userName }: { apiUrl: string; userName: string }) {
  const router = useRouter();
  const signOut = useCallback(async () => {
    forgetToken();
    await authClient.signOut();
    router.replace("/sign-in");
    router.refresh();
  }, [router]);
  const api = useMemo(() => createApi(apiUrl, () => void signOut()), [apiUrl, signOut]);

  const [filters, setFilters] = useState<Filters>(INITIAL_FILTERS);
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [total, setTotal] = useState(0);
  const [links, setLinks] = useState<Record<string, string>>({});
  const [tags, setTags] = useState<Tag[]>([]);
  const [editing, setEditing] = useState<Task | null>(null);
  const [lastEdited, setLastEdited] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [reminders, setReminders] = useState<Task[]>([]);
  const latestRequest = useRef(0);
  // Dates, zones and notifications are the browser's: render the app there only.
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);

  const load = useCallback(async () => {
    const request = ++latestRequest.current;
    const [list, tagList] = await Promise.all([
      api.GET("/api/tasks", { params: { query: toQuery(filters) } }),
      api.GET("/api/tags"),
    ]);
    if (request !== latestRequest.current) return; // a newer load answered or will answer
    if (list.error || !list.data) return setError(errorMessage(list.error));
    setTasks(list.data);
    setTotal(Number(list.response.headers.get("X-Total-Count") ?? list.data.length));
    setLinks(parseLink(list.response.headers.get("Link")));
    if (tagList.data) setTags(tagList.data);
  }, [api, filters]);

  // Typing in the search box reloads after a short pause, everything else at once.
  useEffect(() => {
    const timer = setTimeout(() => void load().catch(() => undefined), 200);
    return () => clearTimeout(timer);
  }, [load]);

  const reloadSoon = useRef<ReturnType<typeof setTimeout>>(undefined);
  useLiveEvents(api, apiUrl, {
    onChange: () => {
      clearTimeout(reloadSoon.current);
      reloadSoon.current = setTimeout(() => void load().catch(() => undefined), 100);
    },
    onReminder: (task) => {
      if ("Notification" in window && Notification.permission === "granted") {
        new Notification(`Reminder: ${task.title}`, {
          body: task.due_date ? `Due ${formatDue(task.due_date, task.due_time)}` : (task.description ?? ""),
          tag: task.id,
        });
      } else {
        setReminders((r) => [...r.filter((t) => t.id !== task.id), task]);
      }
    },
    onStatus: setLive,
  });

  async function create(fields: TaskFields): Promise<boolean> {
    const { data, error: problem } = await api.POST("/api/tasks", { body: fields });
    if (!data) {
      setError(errorMessage(problem));
      return false;
    }
    setError(null);
    setNotice(`Added “${data.title}”.`);
    void load(); // the form clears as soon as this returns, while the list reloads
    return true;
  }

  async function save(task: Task, fields: TaskFields, ifMatch: string): Promise<boolean> {
    const { data, error: problem, response } = await api.PATCH("/api/tasks/{task_id}", {
      params: { path: { task_id: task.id }, header: { "if-match": ifMatch } },
      body: fields,
    });
    if (response.status === 412) {
      setConflict({ fields, etag: response.headers.get("ETag") ?? "*" });
      return false;
    }
    if (!data) {
      setError(errorMessage(problem));
      return false;
    }
    setError(null);
    setConflict(null);
    setEditing(null);
    setLastEdited(task.id);
    setNotice(`Saved “${data.title}”.`);
    await load();
    return true;
  }

  async function reloadEditing(task: Task) {
    const { data } = await api.GET("/api/tasks/{task_id}", { params: { path: { task_id: task.id } } });
    setConflict(null);
    if (data) setEditing(data);
  }

  async function toggle(task: Task, completed: boolean) {
    const { data, error: problem } = await api.PATCH("/api/tasks/{task_id}", {
      params: { path: { task_id: task.id } },
      body: { completed },
    });
    if (!data) return setError(errorMessage(problem));
    setError(null);
    if (completed && !data.completed && data.due_date) {
      setNotice(`Done. “${data.title}” is next due ${formatDue(data.due_date, data.due_time)}.`);
    } else {
      setNotice(completed ? `Completed “${data.title}”.` : `Reopened “${data.title}”.`);
    }
    await load();
  }

  async function remove(task: Task) {
    const { response, error: problem } = await api.DELETE("/api/tasks/{task_id}", {
      params: { path: { task_id: task.id } },
    });
    if (!response.ok) return setError(errorMessage(problem));
    setNotice(`Deleted “${task.title}”.`);
    await load();
  }

  /** The edit form, with the conflict message when the task changed elsewhere since it opened. */
  function editor(task: Task) {
    return (
      <TaskForm
        label="Edit task"
        task={task}
        submitLabel="Save"
        onSubmit={(fields) => save(task, fields, `"${task.version}"`)}
        onCancel={() => {
          setEditing(null);
          setLastEdited(task.id);
          setConflict(null);
        }}
      >
        {conflict && (
          <div role="alert" className="conflict">
            <p>This task changed elsewhere — reload or overwrite.</p>
            <button type="button" onClick={() => void reloadEditing(task)}>
              Reload
            </button>
            <button type="button" onClick={() => void save(task, conflict.fields, conflict.etag)}>
              Overwrite
            </button>
          </div>
        )}
      </TaskForm>
    );
  }

  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  return (
    <>
      <header className="top">
        <h1>Tasks</h1>
        <span className={`live${live ? " on" : ""}`} data-testid="live">
          {live ? "Live" : "Connecting…"}
        </span>
        <Link href="/settings">Integrations</Link>
        <span className="who">{userName}</span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main">
        {mounted && (
          <>
        <Reminders reminders={reminders} onDismiss={(id) => setReminders((r) => r.filter((t) => t.id !== id))} />
        <TaskForm label="New task" submitLabel="Add task" onSubmit={create} />
        <p className="sr-only" role="status" aria-live="polite">
          {notice}
        </p>
        {notice && (
          <p className="notice" aria-hidden="true">
            {notice}
          </p>
        )}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <FilterBar filters={filters} tags={tags} onChange={(c) => setFilters((f) => ({ ...f, ...c }))} />
        {editing && !tasks?.some((t) => t.id === editing.id) && (
          <div className="task editing" key={`${editing.id}-${editing.version}`}>
            {editor(editing)}
          </div>
        )}
        {tasks === null ? (
          <p>Loading…</p>
        ) : tasks.length === 0 ? (
          <p className="empty">{filters.search || filters.tag || filters.due !== "any" ? "No tasks match." : "No tasks yet."}</p>
        ) : (
          <ul className="tasks" aria-label="Tasks">
            {tasks.map((task) =>
              editing?.id === task.id ? (
                <li key={`${task.id}-${editing.version}`} className="task editing">
                  {editor(editing)}
                </li>
              ) : (
                <TaskItem
                  key={task.id}
                  task={task}
                  onToggle={toggle}
                  onEdit={setEditing}
                  onDelete={remove}
                  returnFocus={lastEdited === task.id}
                  onFocusReturned={() => setLastEdited(null)}
                />
              ),
            )}
          </ul>
        )}
        <nav className="pager" aria-label="Pages">
          <button
            type="button"
            disabled={!links.prev}
            onClick={() => setFilters((f) => ({ ...f, page: f.page - 1 }))}
          >
            Previous
          </button>
          <span>
            Page {filters.page} of {pages} · {total} {total === 1 ? "task" : "tasks"}
          </span>
          <button
            type="button"
            disabled={!links.next}
            onClick={() => setFilters((f) => ({ ...f, page: f.page + 1 }))}
          >
            Next
          </button>
        </nav>
          </>
        )}
      </main>
    </>
  );
}
