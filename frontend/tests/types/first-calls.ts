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
  // @ts-expect-error a task needs a title
  await api.POST("/api/tasks", { body: { priority: "High" } });
  // @ts-expect-error priority is one of High, Medium, Low
  await api.PATCH("/api/tasks/{task_id}", { params: { path: { task_id: id } }, body: { priority: "Urgent" } });
}
