"use client";
import { useEffect, useState } from "react";
import type { Task } from "@/lib/api";

/**
 * Reminders without system notifications: a button to ask for the permission (browsers only ask
 * after a click), and the in-page fallback that shows reminders when notifications are off.
 */
export function Reminders({ reminders, onDismiss }: { reminders: Task[]; onDismiss: (id: string) => void }) {
  const [permission, setPermission] = useState<NotificationPermission | "unsupported">("default");
  useEffect(() => {
    setPermission("Notification" in window ? Notification.permission : "unsupported");
  }, []);

  return (
    <section aria-label="Reminders">
      {permission === "default" && (
        <p className="hint">
          <button type="button" onClick={() => void Notification.requestPermission().then(setPermission)}>
            Turn on reminder notifications
          </button>
        </p>
      )}
      {reminders.length > 0 && (
        <div role="alert" className="reminders">
          {reminders.map((t) => (
            <p key={t.id}>
              ⏰ Reminder: <strong>{t.title}</strong>{" "}
              <button type="button" onClick={() => onDismiss(t.id)} aria-label={`Dismiss reminder “${t.title}”`}>
                Dismiss
              </button>
            </p>
          ))}
        </div>
      )}
    </section>
  );
}
