// Runs once when the Next.js server starts: Better Auth's tables exist before the first request.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { migrate } = await import("./lib/auth");
    await migrate();
  }
}
