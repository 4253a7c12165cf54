"use client";
import { createAuthClient } from "better-auth/react";
import { jwtClient } from "better-auth/client/plugins";

// Same origin as the page: Better Auth is served by this Next.js app under /api/auth.
export const authClient = createAuthClient({ plugins: [jwtClient()] });
