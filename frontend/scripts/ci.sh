#!/usr/bin/env bash
# The frontend's CI stage (run by .ci/run after the backend suites): install from the lock file,
# TypeScript strict, the generated client is up to date, production build, Playwright in
# Debian's chromium (/usr/bin/chromium; no browser is ever downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n--- frontend: %s\n' "$*"; }

step "npm ci"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

step "type check (tsc --noEmit, strict; includes the type-level test tests/types/)"
npx tsc --noEmit

step "generated API client is up to date with the backend's OpenAPI"
# From the committed snapshot (backend/tests/test_openapi.py keeps it equal to the app's); the
# Playwright suite also compares the client with the running backend's /openapi.json.
npm run --silent gen:api
git diff --exit-code -- lib/api-schema.d.ts

step "next build"
build_log="$(mktemp)"
npx next build 2>&1 | tee "$build_log"
if grep -Ei '(^|[^a-z])(warn|warning)([^a-z]|$)' "$build_log"; then
  echo "next build printed warnings (above)" >&2
  exit 1
fi

step "Playwright (end-to-end, chromium)"
npx playwright test
echo "Screenshots: $(pwd)/screenshots"
