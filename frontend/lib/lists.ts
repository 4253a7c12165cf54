"use client";
// The caller's lists (the sidebar) and the selected one. The Inbox is selected until the user
// picks another list; a list that goes away (deleted here or on another device) falls back to it.
import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage, type Anchor, type ApiClient, type TaskList } from "./api";

export type ListChange = { name?: string; color?: string | null; archived?: boolean };

export function useLists(api: ApiClient, report: (notice: string | null, error: string | null) => void) {
  const [lists, setLists] = useState<TaskList[]>([]);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [showArchived, setShowArchived] = useState(false);
  const latestRequest = useRef(0);

  const load = useCallback(async () => {
    const request = ++latestRequest.current;
    const { data, error } = await api.GET("/api/lists", {
      params: { query: { archived: showArchived ? "all" : "false" } },
    });
    if (request !== latestRequest.current) return;
    if (!data) return report(null, errorMessage(error));
    setLists(data);
    setSelectedId((id) => (id && data.some((l) => l.id === id) ? id : (data.find((l) => l.is_inbox)?.id ?? null)));
  }, [api, showArchived, report]);

  useEffect(() => {
    void load().catch(() => undefined);
  }, [load]);

  const create = useCallback(
    async (name: string, color: string | null): Promise<boolean> => {
      const { data, error } = await api.POST("/api/lists", { body: { name, color } });
      if (!data) {
        report(null, errorMessage(error));
        return false;
      }
      report(`Created the list “${data.name}”.`, null);
      setSelectedId(data.id);
      void load(); // the form clears as soon as this returns, while the sidebar reloads
      return true;
    },
    [api, load, report],
  );

  const change = useCallback(
    async (list: TaskList, body: ListChange): Promise<boolean> => {
      const { data, error } = await api.PATCH("/api/lists/{list_id}", {
        params: { path: { list_id: list.id } },
        body,
      });
      if (!data) {
        report(null, errorMessage(error));
        return false;
      }
      const what =
        body.archived === true ? "Archived" : body.archived === false ? "Unarchived" : "Saved";
      report(`${what} the list “${data.name}”.`, null);
      if (body.archived && !showArchived) setSelectedId(null); // it leaves the sidebar
      await load();
      return true;
    },
    [api, load, report, showArchived],
  );

  const remove = useCallback(
    async (list: TaskList) => {
      const { response, error } = await api.DELETE("/api/lists/{list_id}", {
        params: { path: { list_id: list.id } },
      });
      if (!response.ok) return report(null, errorMessage(error));
      report(`Deleted the list “${list.name}” and its tasks.`, null);
      setSelectedId(null);
      await load();
    },
    [api, load, report],
  );

  const move = useCallback(
    async (list: TaskList, anchor: Anchor) => {
      // Shown in the new order at once; the answer (or a reload) is the server's order.
      setLists((current) => reorder(current, list.id, anchor));
      const { data, error } = await api.POST("/api/lists/{list_id}/move", {
        params: { path: { list_id: list.id } },
        body: anchor,
      });
      if (!data) report(null, errorMessage(error));
      else report(`Moved the list “${list.name}” to position ${data.findIndex((l) => l.id === list.id) + 1}.`, null);
      await load();
    },
    [api, load, report],
  );

  const selected = lists.find((l) => l.id === selectedId) ?? null;
  return { lists, selected, select: setSelectedId, showArchived, setShowArchived, load, create, change, remove, move };
}

function reorder(lists: TaskList[], id: string, anchor: Anchor): TaskList[] {
  const moved = lists.find((l) => l.id === id);
  if (!moved) return lists;
  const rest = lists.filter((l) => l.id !== id);
  const at = rest.findIndex((l) => l.id === ("before_id" in anchor ? anchor.before_id : anchor.after_id));
  if (at < 0) return lists;
  const to = "before_id" in anchor ? at : at + 1;
  return [...rest.slice(0, to), moved, ...rest.slice(to)];
}
