"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { createApi, errorMessage, type Task } from "@/lib/api";
import { authClient } from "@/lib/auth-client";
import { formatDue } from "@/lib/dates";
import { useLists } from "@/lib/lists";
import { useLiveEvents } from "@/lib/live";
import { useTasks } from "@/lib/tasks";
import { useTaskStructure } from "@/lib/structure";
import { buildTree, levelOf } from "@/lib/tree";
import { revokeToken } from "@/lib/token";
import { FilterBar, INITIAL_FILTERS, PAGE_SIZE, toQuery, type Filters } from "./Filters";
import { ListHeader } from "./ListHeader";
import { Reminders } from "./Reminders";
import { Sidebar } from "./Sidebar";
import { TaskForm, type TaskFields } from "./TaskForm";
import { TaskItem } from "./TaskItem";
import { TaskTree } from "./TaskTree";

type Conflict = { fields: TaskFields; etag: string };

export function TaskApp({ apiUrl, userName }: { apiUrl: string; userName: string }) {
  const router = useRouter();
  const signOut = useCallback(async () => {
    await revokeToken(apiUrl);
    await authClient.signOut();
    router.replace("/sign-in");
    router.refresh();
  }, [apiUrl, router]);
  const api = useMemo(() => createApi(apiUrl, () => void signOut()), [apiUrl, signOut]);

  const [filters, setFilters] = useState<Filters>(INITIAL_FILTERS);
  const [editing, setEditing] = useState<Task | null>(null);
  const [lastEdited, setLastEdited] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [reminders, setReminders] = useState<Task[]>([]);
  // Dates, zones and notifications are the browser's: render the app there only.
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);

  const report = useCallback((said: string | null, problem: string | null) => {
    if (said) setNotice(said);
    setError(problem);
  }, []);
  const lists = useLists(api, report);
  const listId = lists.selected?.id ?? null;
  const query = useCallback((id: string) => toQuery(filters, id), [filters]);
  const { tasks, setTasks, total, links, tags, load } = useTasks(api, listId, query, setError);
  const manual = filters.sort === "position";
  const structure = useTaskStructure(api, { tasks, setTasks, load, report });

  const reloadSoon = useRef<ReturnType<typeof setTimeout>>(undefined);
  useLiveEvents(api, apiUrl, {
    onChange: () => {
      clearTimeout(reloadSoon.current);
      reloadSoon.current = setTimeout(() => void load().catch(() => undefined), 100);
    },
    onListsChange: () => void lists.load().catch(() => undefined),
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
    const { data, error: problem } = await api.POST("/api/tasks", { body: { ...fields, list_id: listId } });
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

  // A new version (reloaded after a conflict) is a new form: its fields start from that version.
  const editorRow = (task: Task) => (
    <div className="task editing" key={`${task.id}-${task.version}`}>
      {editor(task)}
    </div>
  );
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const filtered = filters.search.trim() !== "" || filters.tag !== "" || filters.due !== "any";
  const matchesStatus = (t: Task) => filters.status === "all" || t.completed === (filters.status === "completed");
  const shown = tasks === null ? null : manual ? tasks.filter(matchesStatus) : tasks;
  const moveTargets = lists.lists.filter((l) => l.id !== listId && !l.archived);
  const taskActions = { onToggle: toggle, onEdit: setEditing, onDelete: remove, ...structure };
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
      {mounted && (
      <div className="layout">
        <Sidebar
          lists={lists.lists}
          selectedId={listId}
          showArchived={lists.showArchived}
          onSelect={(l) => {
            lists.select(l.id);
            setEditing(null);
            setFilters((f) => ({ ...f, page: 1 }));
          }}
          onCreate={lists.create}
          onMove={(l, anchor) => void lists.move(l, anchor)}
          onShowArchived={lists.setShowArchived}
        />
      <main id="main">
        <Reminders reminders={reminders} onDismiss={(id) => setReminders((r) => r.filter((t) => t.id !== id))} />
        {lists.selected && (
          <ListHeader list={lists.selected} countTasks={structure.countTasks} onChange={lists.change} onDelete={lists.remove} />
        )}
        <TaskForm label="New task" submitLabel="Add task" onSubmit={create} />
        <p className="sr-only" role="status" aria-live="polite" data-testid="announcer">
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
        {editing && !shown?.some((t) => t.id === editing.id) && (
          <div className="task editing" key={`${editing.id}-${editing.version}`}>
            {editor(editing)}
          </div>
        )}
        {shown === null || tasks === null ? (
          <p>Loading…</p>
        ) : shown.length === 0 ? (
          <p className="empty">{filtered ? "No tasks match." : "No tasks yet."}</p>
        ) : manual ? (
          <TaskTree
            nodes={buildTree(tasks, matchesStatus)}
            levels={levels(tasks)}
            moveTargets={moveTargets}
            actions={taskActions}
            editor={(task) => (editing?.id === task.id ? editorRow(editing) : null)}
            lastEdited={lastEdited}
            onFocusReturned={() => setLastEdited(null)}
          />
        ) : (
          <ul className="tasks" aria-label="Tasks">
            {shown.map((task) => (
              <TaskItem
                key={editing?.id === task.id ? `${task.id}-${editing.version}` : task.id}
                task={task}
                onToggle={toggle}
                onEdit={setEditing}
                onDelete={remove}
                moveTargets={moveTargets}
                onMoveToList={structure.onMoveToList}
                replaceRow={editing?.id === task.id ? editorRow(editing) : undefined}
                returnFocus={lastEdited === task.id}
                onFocusReturned={() => setLastEdited(null)}
              />
            ))}
          </ul>
        )}
        {manual ? (
          shown !== null && (
            <p className="pager">
              {shown.length} {shown.length === 1 ? "task" : "tasks"}
            </p>
          )
        ) : (
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
        )}
      </main>
      </div>
      )}
    </>
  );
}

/** Each task's level in its list, from the tasks loaded (all of the list's, in manual order). */
function levels(tasks: Task[]): Map<string, number> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  return new Map(tasks.map((t) => [t.id, levelOf(t, byId)]));
}
