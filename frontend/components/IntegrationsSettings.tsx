"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useMemo } from "react";
import { createApi } from "@/lib/api";
import { authClient } from "@/lib/auth-client";
import { forgetToken } from "@/lib/token";
import { CalendarFeeds } from "./CalendarFeeds";
import { Webhooks } from "./Webhooks";

/** The settings page: calendar feeds and webhooks, each a section of its own. */
export function IntegrationsSettings({ apiUrl, userName }: { apiUrl: string; userName: string }) {
  const router = useRouter();
  const signOut = useCallback(async () => {
    forgetToken();
    await authClient.signOut();
    router.replace("/sign-in");
    router.refresh();
  }, [router]);
  const api = useMemo(() => createApi(apiUrl, () => void signOut()), [apiUrl, signOut]);
  return (
    <>
      <header className="top">
        <h1>Integrations</h1>
        <Link href="/tasks">Tasks</Link>
        <span className="who">{userName}</span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" className="settings">
        <Webhooks api={api} />
        <CalendarFeeds api={api} />
      </main>
    </>
  );
}
