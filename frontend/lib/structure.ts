"use client";
// Where tasks sit: subtasks, manual order, moves between lists. Each action says what it did
// (or the API's error) through `report` and reloads the list afterwards.
import type { Dispatch, SetStateAction } from "react";
import { errorMessage, type Anchor, type ApiClient, type Task, type TaskList } from "./api";
import { applyMove } from "./tree";

type Context = {
  tasks: Task[] | null;
  setTasks: Dispatch<SetStateAction<Task[] | null>>;
  load: () => Promise<void>;
  report: (notice: string | null, error: string | null) => void;
};

export function useTaskStructure(api: ApiClient, { tasks, setTasks, load, report }: Context) {
  /** Every task of a list, completed ones included (said before the list is deleted). */
  async function countTasks(list: TaskList): Promise<number | null> {
    const { data, response } = await api.GET("/api/tasks", {
      params: { query: { list_id: [list.id], status: "all", limit: 1 } },
    });
    return data ? Number(response.headers.get("X-Total-Count") ?? data.length) : null;
  }

  /** At the end of the parent's subtasks, in the parent's list. */
  async function onAddSubtask(parent: Task, title: string): Promise<boolean> {
    const { data, error } = await api.POST("/api/tasks", { body: { title, parent_id: parent.id } });
    if (!data) {
      report(null, errorMessage(error));
      return false;
    }
    report(`Added the subtask “${data.title}” to “${parent.title}”.`, null);
    void load();
    return true;
  }

  /** Among its siblings (drag and drop, or the keyboard): shown at once, then as the server says. */
  async function onMove(task: Task, anchor: Anchor): Promise<void> {
    const anchorId = "before_id" in anchor ? anchor.before_id : anchor.after_id;
    const neighbour = tasks?.find((t) => t.id === anchorId);
    if (tasks) setTasks(applyMove(tasks, task.id, anchor));
    const { data, error } = await api.POST("/api/tasks/{task_id}/move", {
      params: { path: { task_id: task.id } },
      body: anchor,
    });
    if (!data) report(null, errorMessage(error));
    else report(`Moved “${task.title}” ${"before_id" in anchor ? "before" : "after"} “${neighbour?.title ?? ""}”.`, null);
    await load();
  }

  /** To the end of another list, at its top level, with its subtasks. */
  async function onMoveToList(task: Task, list: TaskList): Promise<void> {
    const { data, error } = await api.POST("/api/tasks/{task_id}/move", {
      params: { path: { task_id: task.id } },
      body: { list_id: list.id, parent_id: null },
    });
    if (!data) report(null, errorMessage(error));
    else report(`Moved “${task.title}” to “${list.name}”.`, null);
    await load();
  }

  return { countTasks, onAddSubtask, onMove, onMoveToList };
}
