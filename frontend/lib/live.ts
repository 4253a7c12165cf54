"use client";
// Live changes: /api/events as Server-Sent Events. EventSource cannot send an Authorization
// header, so each connection uses a single-use ticket (POST /api/events/ticket). On any error the
// stream is closed and reopened with a fresh ticket and ?cursor= (the id of the last event seen),
// so the server first replays whatever was missed.
import { useEffect, useRef } from "react";
import type { ApiClient, Task } from "./api";

export type LiveHandlers = {
  onChange: () => void;
  /** A list was created, changed or deleted: the sidebar reloads (its tasks changed too). */
  onListsChange: () => void;
  onReminder: (task: Task) => void;
  onStatus?: (connected: boolean) => void;
};

export function useLiveEvents(api: ApiClient, apiUrl: string, handlers: LiveHandlers): void {
  const latest = useRef(handlers);
  latest.current = handlers;

  useEffect(() => {
    let source: EventSource | null = null;
    let cursor: string | null = null;
    let stopped = false;
    let retryMs = 500;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const reconnect = () => {
      source?.close();
      source = null;
      latest.current.onStatus?.(false);
      if (stopped) return;
      timer = setTimeout(() => void connect(), retryMs);
      retryMs = Math.min(retryMs * 2, 15_000);
    };

    const connect = async () => {
      let ticket: string;
      try {
        const { data } = await api.POST("/api/events/ticket");
        if (!data) return reconnect();
        ticket = data.ticket;
      } catch {
        return reconnect();
      }
      if (stopped) return;
      const url = new URL("/api/events", apiUrl);
      url.searchParams.set("ticket", ticket);
      if (cursor) url.searchParams.set("cursor", cursor);
      const es = new EventSource(url);
      source = es;
      const seen = (e: MessageEvent<string>) => {
        if (e.lastEventId) cursor = e.lastEventId;
      };
      for (const type of ["task.created", "task.updated", "task.deleted"]) {
        es.addEventListener(type, (e) => {
          seen(e);
          latest.current.onChange();
        });
      }
      for (const type of ["list.created", "list.updated", "list.deleted"]) {
        es.addEventListener(type, (e) => {
          seen(e);
          latest.current.onListsChange();
          latest.current.onChange();
        });
      }
      es.addEventListener("reminder", (e) => {
        seen(e);
        latest.current.onReminder(JSON.parse(e.data) as Task);
        latest.current.onChange();
      });
      es.onopen = () => {
        retryMs = 500;
        latest.current.onStatus?.(true);
      };
      // The browser would retry with the same (spent) ticket: reconnect ourselves instead.
      es.onerror = reconnect;
    };

    void connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      source?.close();
    };
  }, [api, apiUrl]);
}
