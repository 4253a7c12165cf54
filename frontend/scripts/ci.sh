#!/usr/bin/env bash
# The frontend's CI stage (run by .ci/run after the backend suites): install from the lock file,
# TypeScript strict, the generated client is up to date, production build, Playwright in
# Debian's chromium (/usr/bin/chromium; no browser is ever downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."

export NEXT_TELEMETRY_DISABLED=1

step() { printf "\n--- frontend: %s  (at %d s)\n" "$*" "$SECONDS"; }

# npm ci compiles better-sqlite3's SQLite from source (~2 min: its prebuilt binaries are on
# GitHub, out of reach here). Like a CI cache, a copy of node_modules made by `npm ci` from these
# exact package.json and package-lock.json (and this Node) is kept outside the checkout and reused.
# NPM_CI_CACHE=off always runs npm ci.
cache_root="${NPM_CI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/todo-frontend-ci}"
cache_key="$(cat package.json package-lock.json | sha256sum | cut -c1-16)-node$(node --version)-$(uname -m)"
cached="$cache_root/$cache_key/node_modules"
if [[ "${NPM_CI_CACHE:-on}" != off && -f "$cached/.package-lock.json" ]]; then
  step "node_modules from the CI cache ($cache_key: npm ci of this very lock file)"
  rm -rf node_modules
  cp -a "$cached" node_modules
else
  step "npm ci"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
  if [[ "${NPM_CI_CACHE:-on}" != off ]]; then
    rm -rf "$cache_root" && mkdir -p "$cache_root/$cache_key"
    cp -a node_modules "$cached"
  fi
fi

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
echo "Screenshots: $(pwd)/screenshots  (frontend stage: $SECONDS s)"
