// Type-level test (checked by `npm run typecheck`, never run): the calls a user writes first must
// compile against the generated client. With openapi-typescript's defaults, members that have a
// default (priority, completed) would be required and the create below would not compile.
import createClient from "openapi-fetch";
import type { paths } from "../../lib/api-schema";

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export async function firstCalls(): Promise<void> {
  const created = await api.POST("/api/tasks", { body: { title: "Buy milk" } });
  if (!created.data) return;
  const id: string = created.data.id;
  await api.PATCH("/api/tasks/{task_id}", { params: { path: { task_id: id } }, body: { completed: true } });
  await api.GET("/api/tasks", { params: { query: { status: "active", tag: ["home"] } } });
  // Lists, subtasks, manual order: a list, a task in it, a subtask, a move.
  const list = await api.POST("/api/lists", { body: { name: "Groceries" } });
  if (!list.data) return;
  const inList = await api.POST("/api/tasks", { body: { title: "Milk", list_id: list.data.id } });
  if (!inList.data) return;
  await api.POST("/api/tasks", { body: { title: "Oat milk", parent_id: inList.data.id } });
  await api.POST("/api/tasks/{task_id}/move", { params: { path: { task_id: id } }, body: { before_id: inList.data.id } });
  await api.GET("/api/tasks", { params: { query: { list_id: [list.data.id], sort: "position", top_level: true } } });
  // @ts-expect-error a list needs a name
  await api.POST("/api/lists", { body: { color: "#ff0000" } });
  const inListOf: string = created.data.list_id; // every task is in a list (never null)
  void inListOf;
  // @ts-expect-error a task needs a title
  await api.POST("/api/tasks", { body: { priority: "High" } });
  // @ts-expect-error priority is one of High, Medium, Low
  await api.PATCH("/api/tasks/{task_id}", { params: { path: { task_id: id } }, body: { priority: "Urgent" } });
}
