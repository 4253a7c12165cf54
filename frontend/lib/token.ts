"use client";
// The Better Auth JWT the API accepts: fetched from /api/auth/token, kept in memory only, and
// fetched again before it expires (never sent with less than RENEW_MARGIN of its life left).
import { authClient } from "./auth-client";

const RENEW_MARGIN_MS = 60_000;

type Held = { token: string; issuedAt: number; expiresAt: number };
let held: Held | null = null;
let inflight: Promise<string> | null = null;

export class SignedOut extends Error {
  constructor() {
    super("Your session has ended. Sign in again.");
  }
}

function expiryOf(token: string): number {
  const payload = token.split(".")[1] ?? "";
  const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: number };
  if (typeof claims.exp !== "number") throw new Error("the token has no exp claim");
  return claims.exp * 1000;
}

/** Renew when less than a minute (or, for short-lived tokens, a quarter of the lifetime) is left. */
function fresh(h: Held): boolean {
  const margin = Math.min(RENEW_MARGIN_MS, (h.expiresAt - h.issuedAt) / 4);
  return h.expiresAt - Date.now() > margin;
}

async function fetchToken(): Promise<string> {
  const { data, error } = await authClient.token();
  if (error || !data?.token) throw new SignedOut();
  held = { token: data.token, issuedAt: Date.now(), expiresAt: expiryOf(data.token) };
  return data.token;
}

/** A usable token; `renew` forces a new one (after the API answered 401). */
export function getToken(renew = false): Promise<string> {
  if (!renew && held && fresh(held)) return Promise.resolve(held.token);
  inflight ??= fetchToken().finally(() => {
    inflight = null;
  });
  return inflight;
}

export function forgetToken(): void {
  held = null;
}

/**
 * Signing out: ask the API to stop accepting the token held (POST /api/auth/revoke), which it
 * would otherwise accept until it expires, then forget it. Plain fetch, not the API client: a
 * refusal here must not fetch a new token or sign out again.
 */
export async function revokeToken(apiUrl: string): Promise<void> {
  const token = held?.token;
  forgetToken();
  if (!token) return;
  try {
    await fetch(`${apiUrl}/api/auth/revoke`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  } catch {
    // The API is unreachable: the token still expires on its own.
  }
}
