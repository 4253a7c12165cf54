// The tasks of one list as the tree the page shows: the API answers `sort=position` depth-first
// (each task followed by its subtasks, siblings in manual order), so building the tree keeps the
// order it is given. A task whose parent is not shown (filtered out) is shown as a root.
import type { Anchor, Task } from "./api";

/** The API's limit: a top-level task is level 1, so a level-4 task cannot have subtasks. */
export const MAX_DEPTH = 4;

export type TaskNode = {
  task: Task;
  /** 1 for a root of the view. */
  depth: number;
  children: TaskNode[];
  /** Over all of the task's direct subtasks that were loaded, whatever the status filter. */
  done: number;
  total: number;
};

/**
 * `all` is every task loaded (for the done/total counts); `shown` says which are shown. A shown
 * task's shown subtasks hang under it; a shown task whose parent is hidden becomes a root.
 */
export function buildTree(all: Task[], shown: (task: Task) => boolean): TaskNode[] {
  const byId = new Map<string, TaskNode>();
  const counts = new Map<string, { done: number; total: number }>();
  for (const task of all) {
    if (!task.parent_id) continue;
    const c = counts.get(task.parent_id) ?? { done: 0, total: 0 };
    c.total += 1;
    if (task.completed) c.done += 1;
    counts.set(task.parent_id, c);
  }
  const roots: TaskNode[] = [];
  for (const task of all) {
    if (!shown(task)) continue;
    const c = counts.get(task.id) ?? { done: 0, total: 0 };
    const parent = task.parent_id ? byId.get(task.parent_id) : undefined;
    const node: TaskNode = { task, depth: parent ? parent.depth + 1 : 1, children: [], ...c };
    byId.set(task.id, node);
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

/** The level of a task in its list (1 = top level), from the loaded tasks. */
export function levelOf(task: Task, all: Map<string, Task>): number {
  let level = 1;
  for (let p = task.parent_id; p; p = all.get(p)?.parent_id ?? null) level += 1;
  return level;
}

/** The anchor for the move API when `moved` ends up at `to` in `siblings` (taken before the move). */
export function moveAnchor<T extends { id: string }>(
  siblings: T[],
  moved: string,
  to: number,
): Anchor | null {
  const from = siblings.findIndex((s) => s.id === moved);
  if (from < 0 || from === to) return null;
  const rest = siblings.filter((s) => s.id !== moved);
  const after = rest[to - 1];
  const before = rest[to];
  if (after) return { after_id: after.id };
  if (before) return { before_id: before.id };
  return null;
}

/** The block of `tasks` (depth-first) that is the task at `start` and its subtree. */
function blockEnd(tasks: Task[], start: number): number {
  const inBlock = new Set([tasks[start]?.id]);
  let end = start + 1;
  while (end < tasks.length && inBlock.has(tasks[end]?.parent_id ?? undefined)) {
    inBlock.add(tasks[end]?.id);
    end += 1;
  }
  return end;
}

/**
 * `tasks` (depth-first) as the server will order them after a move within the same parent: the
 * moved task's block goes before the anchor's block or after it. Shown at once, while the
 * request runs; the reload that follows brings the server's own order.
 */
export function applyMove(tasks: Task[], moved: string, anchor: Anchor): Task[] {
  const from = tasks.findIndex((t) => t.id === moved);
  if (from < 0) return tasks;
  const block = tasks.slice(from, blockEnd(tasks, from));
  const rest = [...tasks.slice(0, from), ...tasks.slice(from + block.length)];
  const anchorId = "before_id" in anchor ? anchor.before_id : anchor.after_id;
  const at = rest.findIndex((t) => t.id === anchorId);
  if (at < 0) return tasks;
  const to = "before_id" in anchor ? at : blockEnd(rest, at);
  return [...rest.slice(0, to), ...block, ...rest.slice(to)];
}
