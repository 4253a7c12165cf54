import type { Metadata } from "next";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { IntegrationsSettings } from "@/components/IntegrationsSettings";
import { auth } from "@/lib/auth";

export const metadata: Metadata = { title: "Integrations · Todo" };

export default async function SettingsPage() {
  const session = await auth.api.getSession({ headers: await headers() });
  if (!session) redirect("/sign-in");
  // Read at request time, as on /tasks: one build serves any backend.
  const apiUrl = process.env.API_URL ?? "http://127.0.0.1:8000";
  return <IntegrationsSettings apiUrl={apiUrl} userName={session.user.name} />;
}
