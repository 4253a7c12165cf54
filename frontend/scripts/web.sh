#!/usr/bin/env bash
# `make web`: the backend (SQLite unless DATABASE_URL says otherwise) and this app's production
# build, wired together: the backend accepts the app's Better Auth JWTs and its browser origin.
# Ctrl-C stops both. Ports: PORT (backend, 8000) and WEB_PORT (app, 3000). DATABASE_URL is the
# backend's; Better Auth keeps its own database: AUTH_DATABASE_URL (PostgreSQL), else SQLite in .data/.
set -euo pipefail
cd "$(dirname "$0")/.."

WEB_PORT="${WEB_PORT:-3000}"
API_PORT="${PORT:-8000}"
export BETTER_AUTH_URL="${BETTER_AUTH_URL:-http://localhost:$WEB_PORT}"
export CORS_ORIGINS="${CORS_ORIGINS:-$BETTER_AUTH_URL}"
export API_URL="${API_URL:-http://127.0.0.1:$API_PORT}"

# Build only when a source changed since the last build.
if [[ ! -f .next/BUILD_ID ]] || [[ -n "$(find app components lib instrumentation.ts next.config.ts package-lock.json -newer .next/BUILD_ID -print -quit)" ]]; then
  echo "Building the app (next build)…"
  node_modules/.bin/next build
fi

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

(cd ../backend && PORT="$API_PORT" exec .venv/bin/python -m app run) &
pids+=($!)
DATABASE_URL="${AUTH_DATABASE_URL:-}" PORT="$WEB_PORT" node_modules/.bin/next start -p "$WEB_PORT" &
pids+=($!)

for _ in $(seq 120); do
  if curl -fs -o /dev/null "$API_URL/api/health" && curl -fs -o /dev/null "http://127.0.0.1:$WEB_PORT/sign-in"; then
    printf '\n  Todo is running: %s  (API: %s, docs: %s/docs)\n  Ctrl-C stops both.\n\n' \
      "$BETTER_AUTH_URL" "$API_URL" "$API_URL"
    break
  fi
  sleep 1
done
# Stop everything as soon as either server exits.
wait -n
