"use client";
import { useCallback, useEffect, useState } from "react";
import { errorMessage, type ApiClient, type Delivery, type Webhook } from "@/lib/api";

// The log is read again every few seconds while it is open: deliveries are sent in the background.
const REFRESH_MS = 2000;

/** One endpoint's delivery log (last 30 days, newest first), each delivery with Redeliver. */
export function WebhookDeliveries({
  api,
  webhook,
  onError,
  onNotice,
}: {
  api: ApiClient;
  webhook: Webhook;
  onError: (message: string | null) => void;
  onNotice: (message: string) => void;
}) {
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);

  const load = useCallback(async () => {
    const { data, error: problem } = await api.GET("/api/webhooks/{webhook_id}/deliveries", {
      params: { path: { webhook_id: webhook.id } },
    });
    if (!data) return onError(errorMessage(problem));
    setDeliveries(data);
  }, [api, webhook.id, onError]);

  useEffect(() => {
    void load().catch(() => undefined);
    const timer = setInterval(() => void load().catch(() => undefined), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  async function redeliver(delivery: Delivery) {
    const { data, error: problem } = await api.POST("/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", {
      params: { path: { webhook_id: webhook.id, delivery_id: delivery.id } },
    });
    if (!data) return onError(errorMessage(problem));
    onError(null);
    onNotice(`Redelivering ${delivery.event}.`);
    await load();
  }

  if (deliveries === null) return <p>Loading deliveries…</p>;
  if (deliveries.length === 0) return <p className="empty">No deliveries in the last 30 days.</p>;
  return (
    <table className="deliveries" aria-label={`Deliveries to ${webhook.url}`}>
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Status</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last answer</th>
          <th scope="col">Created</th>
          <th scope="col">
            <span className="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {deliveries.map((delivery) => (
          <tr key={delivery.id} data-testid="delivery">
            <td>{delivery.event}</td>
            <td className={`status-${delivery.status}`}>{delivery.status}</td>
            <td>{delivery.attempts}</td>
            <td>
              {delivery.last_status_code ?? ""}
              {delivery.last_error ? ` ${delivery.last_error}` : ""}
              {delivery.status === "pending" && delivery.next_attempt_at
                ? ` · next try ${new Date(delivery.next_attempt_at).toLocaleTimeString()}`
                : ""}
            </td>
            <td>{new Date(delivery.created_at).toLocaleString()}</td>
            <td>
              <button type="button" disabled={!webhook.enabled} onClick={() => void redeliver(delivery)}>
                Redeliver
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
