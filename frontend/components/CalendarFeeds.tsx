"use client";
import { useCallback, useEffect, useState } from "react";
import { errorMessage, type ApiClient, type CalendarFeed, type CalendarFeedCreated } from "@/lib/api";
import { Field } from "./Field";

/**
 * Calendar feeds: create one (its URL is shown this once: the server keeps only a hash), copy its
 * webcal:// link into a calendar app, revoke one (its URL stops working at once).
 */
export function CalendarFeeds({ api }: { api: ApiClient }) {
  const [feeds, setFeeds] = useState<CalendarFeed[] | null>(null);
  const [name, setName] = useState("Tasks");
  const [includeCompleted, setIncludeCompleted] = useState(false);
  const [created, setCreated] = useState<CalendarFeedCreated | null>(null);
  const [notice, setNotice] = useState("");
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error: problem } = await api.GET("/api/calendar-feeds");
    if (!data) return setError(errorMessage(problem));
    setFeeds(data);
  }, [api]);
  useEffect(() => void load().catch(() => undefined), [load]);

  async function create(event: React.FormEvent) {
    event.preventDefault();
    const { data, error: problem } = await api.POST("/api/calendar-feeds", {
      body: { name, include_completed: includeCompleted },
    });
    if (!data) return setError(errorMessage(problem));
    setError(null);
    setCreated(data);
    setNotice(`Created the calendar feed “${data.name}”. Copy its link now: it is shown only once.`);
    await load();
  }

  async function copy(link: string) {
    try {
      await navigator.clipboard.writeText(link);
      setNotice("Copied the webcal:// link. Paste it into your calendar app.");
    } catch {
      setNotice("Copying is not allowed here: select the link and copy it yourself.");
    }
  }

  async function revoke(feed: CalendarFeed) {
    const { response, error: problem } = await api.DELETE("/api/calendar-feeds/{feed_id}", {
      params: { path: { feed_id: feed.id } },
    });
    if (!response.ok) return setError(errorMessage(problem));
    setError(null);
    if (created?.id === feed.id) setCreated(null);
    setNotice(`Revoked “${feed.name}”: its link no longer works.`);
    await load();
  }

  return (
    <section className="panel" aria-labelledby="calendar-heading">
      <h2 id="calendar-heading">Calendar feeds</h2>
      <p className="hint">
        Your dated tasks in Google Calendar, Apple Calendar, Outlook or Thunderbird: create a feed and
        subscribe to its link. Anyone with the link can read the feed; revoke it to stop that.
      </p>
      <form className="task-form" aria-label="New calendar feed" onSubmit={(e) => void create(e)}>
        <div className="row">
          <Field label="Feed name">
            <input value={name} maxLength={100} required onChange={(e) => setName(e.target.value)} />
          </Field>
        </div>
        <label className="inline">
          <input type="checkbox" checked={includeCompleted} onChange={(e) => setIncludeCompleted(e.target.checked)} />
          Include completed tasks
        </label>
        <div className="actions">
          <button type="submit" className="primary">
            Create feed
          </button>
        </div>
      </form>
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
      {created && (
        <div className="secret" role="group" aria-label="New feed link">
          <p>
            <strong>Subscribe to “{created.name}”.</strong> This link is shown only now.
          </p>
          <Field label="Calendar link">
            <input readOnly value={created.webcal_url} onFocus={(e) => e.target.select()} />
          </Field>
          <div className="actions">
            <button type="button" onClick={() => void copy(created.webcal_url)}>
              Copy link
            </button>
            <a href={created.webcal_url}>Open in calendar app</a>
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      {feeds === null ? (
        <p>Loading…</p>
      ) : feeds.length === 0 ? (
        <p className="empty">No calendar feeds yet.</p>
      ) : (
        <ul className="tasks" aria-label="Calendar feeds">
          {feeds.map((feed) => (
            <li key={feed.id} className="task" aria-label={feed.name}>
              <div className="body">
                <span className="title">{feed.name}</span>
                <p className="meta">
                  <span className="badge">{feed.include_completed ? "Open and completed tasks" : "Open tasks"}</span>
                  <span>Created {new Date(feed.created_at).toLocaleString()}</span>
                </p>
              </div>
              <div className="item-actions">
                <button type="button" onClick={() => void revoke(feed)} aria-label={`Revoke “${feed.name}”`}>
                  Revoke
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
