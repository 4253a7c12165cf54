"use client";
// The typed API client: every path, query and body type comes from lib/api-schema.d.ts, which is
// generated from the backend's OpenAPI document (npm run gen:api) and never edited by hand.
import createClient from "openapi-fetch";
import type { components, paths } from "./api-schema";
import { getToken, SignedOut } from "./token";

export type Task = components["schemas"]["TaskPublic"];
export type TaskCreate = components["schemas"]["TaskCreate"];
export type TaskPatch = components["schemas"]["TaskPatch"];
export type Tag = components["schemas"]["TagPublic"];
export type CalendarFeed = components["schemas"]["CalendarFeedPublic"];
export type CalendarFeedCreated = components["schemas"]["CalendarFeedCreated"];
export type Webhook = components["schemas"]["WebhookPublic"];
export type WebhookCreated = components["schemas"]["WebhookCreated"];
export type Delivery = components["schemas"]["DeliveryPublic"];
export type WebhookEvent = Exclude<components["schemas"]["WebhookCreate"]["events"][number], "*">;
export type TaskQuery = NonNullable<paths["/api/tasks"]["get"]["parameters"]["query"]>;
export type TaskList = components["schemas"]["ListPublic"];
/** Where a moved task or list goes among its siblings: next to one of them (neither = the end). */
export type Anchor = { before_id: string } | { after_id: string };
export type ApiClient = ReturnType<typeof createApi>;

/**
 * Sends the Better Auth JWT as a bearer token. A 401 gets one retry with a freshly fetched token
 * (the old one may have just expired or its key rotated); a second 401 means the session is over.
 */
function authorizedFetch(onSignedOut: () => void) {
  return async (request: Request): Promise<Response> => {
    const retry = request.clone();
    try {
      request.headers.set("Authorization", `Bearer ${await getToken()}`);
      const first = await fetch(request);
      if (first.status !== 401) return first;
      retry.headers.set("Authorization", `Bearer ${await getToken(true)}`);
      const second = await fetch(retry);
      if (second.status === 401) onSignedOut();
      return second;
    } catch (err) {
      if (err instanceof SignedOut) onSignedOut();
      throw err;
    }
  };
}

export function createApi(baseUrl: string, onSignedOut: () => void) {
  return createClient<paths>({ baseUrl, fetch: authorizedFetch(onSignedOut) });
}

/** The sentence to show for an API error body (422 lists each field's message). */
export function errorMessage(error: unknown): string {
  if (error && typeof error === "object" && "detail" in error) {
    const detail = (error as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      // loc is ["body", field, ...]: name the field (a member that may also be null gets one
      // error per alternative, "…; Input should be None": the first says what is wrong).
      const byField = new Map<string, string>();
      for (const d of detail as { loc?: unknown[]; msg?: string }[]) {
        const field = String(d.loc?.[1] ?? d.loc?.[0] ?? "");
        if (!byField.has(field)) byField.set(field, d.msg ?? "");
      }
      return [...byField].map(([field, msg]) => `${field}: ${msg}`).join("; ");
    }
  }
  return "Something went wrong. Try again.";
}

/** `rel` → URL from an RFC 8288 Link header. */
export function parseLink(header: string | null): Record<string, string> {
  const links: Record<string, string> = {};
  for (const part of header?.split(",") ?? []) {
    const match = /<([^>]*)>\s*;\s*rel="?([^";]+)"?/.exec(part);
    if (match?.[1] && match[2]) links[match[2]] = match[1];
  }
  return links;
}
