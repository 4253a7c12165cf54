"use client";
import { useCallback, useEffect, useState } from "react";
import { errorMessage, type ApiClient, type Webhook, type WebhookEvent } from "@/lib/api";
import { Field } from "./Field";
import { WebhookDeliveries } from "./WebhookDeliveries";

// The events an endpoint can subscribe to (webhook.test is sent on request, whatever these say).
const EVENTS: WebhookEvent[] = [
  "task.created",
  "task.updated",
  "task.completed",
  "task.reopened",
  "task.deleted",
  "task.moved",
  "reminder",
  "comment.created",
  "list.updated",
  "list.deleted",
];

type Secret = { webhook: string; secret: string };

/**
 * Webhooks: add an endpoint (its signing secret is shown once), send it a test event, disable or
 * enable it, read its delivery log and redeliver, delete it.
 */
export function Webhooks({ api }: { api: ApiClient }) {
  const [webhooks, setWebhooks] = useState<Webhook[] | null>(null);
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [allEvents, setAllEvents] = useState(true);
  const [events, setEvents] = useState<WebhookEvent[]>([]);
  const [secret, setSecret] = useState<Secret | null>(null);
  const [open, setOpen] = useState<string | null>(null); // whose delivery log is shown
  const [notice, setNotice] = useState("");
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error: problem } = await api.GET("/api/webhooks");
    if (!data) return setError(errorMessage(problem));
    setWebhooks(data);
  }, [api]);
  useEffect(() => void load().catch(() => undefined), [load]);

  function done(message: string) {
    setError(null);
    setNotice(message);
    return load();
  }

  async function create(event: React.FormEvent) {
    event.preventDefault();
    const { data, error: problem } = await api.POST("/api/webhooks", {
      body: { url, events: allEvents ? ["*"] : events, description: description || null },
    });
    if (!data) return setError(errorMessage(problem));
    setSecret({ webhook: data.url, secret: data.secret });
    setUrl("");
    setDescription("");
    await done(`Added the webhook for ${data.url}. Copy its signing secret now: it is shown only once.`);
  }

  async function test(webhook: Webhook) {
    const { data, error: problem } = await api.POST("/api/webhooks/{webhook_id}/test", {
      params: { path: { webhook_id: webhook.id } },
    });
    if (!data) return setError(errorMessage(problem));
    setOpen(webhook.id);
    await done(`Sent a test event to ${webhook.url}.`);
  }

  async function setEnabled(webhook: Webhook, enabled: boolean) {
    const { data, error: problem } = await api.PATCH("/api/webhooks/{webhook_id}", {
      params: { path: { webhook_id: webhook.id } },
      body: { enabled },
    });
    if (!data) return setError(errorMessage(problem));
    await done(`${enabled ? "Enabled" : "Disabled"} the webhook for ${webhook.url}.`);
  }

  async function remove(webhook: Webhook) {
    const { response, error: problem } = await api.DELETE("/api/webhooks/{webhook_id}", {
      params: { path: { webhook_id: webhook.id } },
    });
    if (!response.ok) return setError(errorMessage(problem));
    if (open === webhook.id) setOpen(null);
    await done(`Deleted the webhook for ${webhook.url}.`);
  }

  async function copySecret(value: string) {
    try {
      await navigator.clipboard.writeText(value);
      setNotice("Copied the signing secret.");
    } catch {
      setNotice("Copying is not allowed here: select the secret and copy it yourself.");
    }
  }

  return (
    <section className="panel" aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading">Webhooks</h2>
      <p className="hint">
        A signed HTTPS request (Standard Webhooks) to your endpoint for every change you choose, retried for
        about three days until it answers 2xx.
      </p>
      <form className="task-form" aria-label="New webhook" onSubmit={(e) => void create(e)}>
        <Field label="Endpoint URL">
          <input type="url" value={url} required placeholder="https://hooks.example.com/todo" onChange={(e) => setUrl(e.target.value)} />
        </Field>
        <Field label="Description" hint="(optional)">
          <input value={description} maxLength={500} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <fieldset className="days">
          <legend>Events</legend>
          <label className="inline">
            <input type="checkbox" checked={allEvents} onChange={(e) => setAllEvents(e.target.checked)} />
            All events
          </label>
          {!allEvents &&
            EVENTS.map((name) => (
              <label className="inline" key={name}>
                <input
                  type="checkbox"
                  checked={events.includes(name)}
                  onChange={(e) => setEvents((list) => (e.target.checked ? [...list, name] : list.filter((n) => n !== name)))}
                />
                {name}
              </label>
            ))}
        </fieldset>
        <div className="actions">
          <button type="submit" className="primary">
            Add webhook
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
      {secret && (
        <div className="secret" role="group" aria-label="New signing secret">
          <p>
            <strong>Signing secret for {secret.webhook}.</strong> Shown only now: your receiver verifies each
            request&apos;s <code>webhook-signature</code> with it.
          </p>
          <Field label="Signing secret">
            <input readOnly value={secret.secret} onFocus={(e) => e.target.select()} />
          </Field>
          <div className="actions">
            <button type="button" onClick={() => void copySecret(secret.secret)}>
              Copy secret
            </button>
            <button type="button" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      {webhooks === null ? (
        <p>Loading…</p>
      ) : webhooks.length === 0 ? (
        <p className="empty">No webhooks yet.</p>
      ) : (
        <ul className="tasks" aria-label="Webhooks">
          {webhooks.map((webhook) => (
            <li key={webhook.id} className="task webhook" aria-label={webhook.url}>
              <div className="body">
                <span className="title">{webhook.url}</span>
                {webhook.description && <p className="description">{webhook.description}</p>}
                <p className="meta">
                  <span className={`badge${webhook.enabled ? "" : " overdue"}`} data-testid="webhook-state">
                    {webhook.enabled ? "Enabled" : `Disabled${webhook.disabled_reason ? `: ${webhook.disabled_reason}` : ""}`}
                  </span>
                  <span>{webhook.events.includes("*") ? "All events" : webhook.events.join(", ")}</span>
                </p>
                <div className="item-actions">
                  <button type="button" disabled={!webhook.enabled} onClick={() => void test(webhook)}>
                    Send test
                  </button>
                  <button type="button" onClick={() => void setEnabled(webhook, !webhook.enabled)}>
                    {webhook.enabled ? "Disable" : "Enable"}
                  </button>
                  <button
                    type="button"
                    aria-expanded={open === webhook.id}
                    onClick={() => setOpen(open === webhook.id ? null : webhook.id)}
                  >
                    Deliveries
                  </button>
                  <button type="button" onClick={() => void remove(webhook)}>
                    Delete
                  </button>
                </div>
                {open === webhook.id && <WebhookDeliveries api={api} webhook={webhook} onError={setError} onNotice={setNotice} />}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
