import type { NextConfig } from "next";

const config: NextConfig = {
  // Native and server-only packages stay out of the bundle: Node loads them at run time.
  serverExternalPackages: ["better-sqlite3", "pg"],
  poweredByHeader: false,
};

export default config;
