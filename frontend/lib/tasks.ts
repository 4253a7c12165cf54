"use client";
// The tasks of the selected list. In manual order every task of the list is loaded (completed
// ones too, for the subtasks' done/total counts), page after page, in the API's depth-first
// order; the status tab is applied here. Any other order is one page, filtered by the API.
import { useCallback, useEffect, useRef, useState } from "react";
import { errorMessage, parseLink, type ApiClient, type Tag, type Task, type TaskQuery } from "./api";

/** A list longer than this many pages of 100 shows its first 5,000 tasks in manual order. */
const MAX_PAGES = 50;

export function useTasks(
  api: ApiClient,
  listId: string | null,
  query: ((listId: string) => TaskQuery) | null,
  onError: (error: string) => void,
) {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [total, setTotal] = useState(0);
  const [links, setLinks] = useState<Record<string, string>>({});
  const [tags, setTags] = useState<Tag[]>([]);
  const latestRequest = useRef(0);

  const load = useCallback(async () => {
    if (!listId || !query) return;
    const request = ++latestRequest.current;
    const q = query(listId);
    const everything = q.sort === "position";
    const [first, tagList] = await Promise.all([api.GET("/api/tasks", { params: { query: q } }), api.GET("/api/tags")]);
    if (request !== latestRequest.current) return; // a newer load answered or will answer
    if (!first.data) return onError(errorMessage(first.error));
    const loaded = [...first.data];
    let next = parseLink(first.response.headers.get("Link")).next;
    for (let page = 2; everything && next && page <= MAX_PAGES; page++) {
      const more = await api.GET("/api/tasks", { params: { query: { ...q, page } } });
      if (request !== latestRequest.current) return;
      if (!more.data) return onError(errorMessage(more.error));
      loaded.push(...more.data);
      next = parseLink(more.response.headers.get("Link")).next;
    }
    setTasks(loaded);
    setTotal(Number(first.response.headers.get("X-Total-Count") ?? loaded.length));
    setLinks(everything ? {} : parseLink(first.response.headers.get("Link")));
    if (tagList.data) setTags(tagList.data);
  }, [api, listId, query, onError]);

  // Typing in the search box reloads after a short pause, everything else at once.
  useEffect(() => {
    const timer = setTimeout(() => void load().catch(() => undefined), 200);
    return () => clearTimeout(timer);
  }, [load]);

  // Another list: its tasks, not the last list's, while they load.
  useEffect(() => setTasks(null), [listId]);

  return { tasks, setTasks, total, links, tags, load };
}
