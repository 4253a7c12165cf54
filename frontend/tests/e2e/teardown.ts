import { rmSync } from "node:fs";

// The run's temporary folder (both databases, the backend's dev key) goes when the run ends.
export default function teardown(): void {
  if (process.env.E2E_DATA_DIR) rmSync(process.env.E2E_DATA_DIR, { recursive: true, force: true });
}
