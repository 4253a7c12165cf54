"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { authClient } from "@/lib/auth-client";
import { forgetToken } from "@/lib/token";
import { Field } from "./Field";

export function AuthForm({ mode }: { mode: "sign-in" | "sign-up" }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const signUp = mode === "sign-up";

  async function submit(form: FormData) {
    setBusy(true);
    setError(null);
    const email = String(form.get("email") ?? "");
    const password = String(form.get("password") ?? "");
    const result = signUp
      ? await authClient.signUp.email({ email, password, name: String(form.get("name") ?? "") })
      : await authClient.signIn.email({ email, password });
    setBusy(false);
    if (result.error) {
      setError(result.error.message ?? "That did not work. Try again.");
      return;
    }
    forgetToken();
    router.replace("/tasks");
    router.refresh();
  }

  return (
    <main id="main" className="auth">
      <h1>{signUp ? "Create your account" : "Sign in"}</h1>
      <form action={submit} aria-describedby={error ? "auth-error" : undefined}>
        {signUp && (
          <Field label="Name">
            <input name="name" autoComplete="name" required maxLength={100} />
          </Field>
        )}
        <Field label="Email">
          <input name="email" type="email" autoComplete="email" required />
        </Field>
        <Field label="Password">
          <input
            name="password"
            type="password"
            autoComplete={signUp ? "new-password" : "current-password"}
            required
            minLength={8}
          />
        </Field>
        {error && (
          <p id="auth-error" role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {signUp ? "Sign up" : "Sign in"}
        </button>
      </form>
      <p>
        {signUp ? (
          <>
            Already have an account? <Link href="/sign-in">Sign in</Link>
          </>
        ) : (
          <>
            New here? <Link href="/sign-up">Create an account</Link>
          </>
        )}
      </p>
    </main>
  );
}
