import type { Metadata } from "next";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { TaskApp } from "@/components/TaskApp";
import { auth } from "@/lib/auth";

export const metadata: Metadata = { title: "Tasks · Todo" };

export default async function TasksPage() {
  const session = await auth.api.getSession({ headers: await headers() });
  if (!session) redirect("/sign-in");
  // Read at request time, so one build serves any backend (API_URL, default: make run's address).
  const apiUrl = process.env.API_URL ?? "http://127.0.0.1:8000";
  return <TaskApp apiUrl={apiUrl} userName={session.user.name} />;
}
