#!/usr/bin/env bash
# CI stage "image and manifests" (called by .ci/run; runs alone too, as root, from anywhere):
#  1. a Debian 12 base root filesystem made here with mmdebstrap (no registry can be reached),
#     cached under ~/.cache/todo-image-ci/ keyed by its recipe and the ISO week;
#  2. the Containerfile built on it with podman (chroot isolation, host network);
#  3. deploy/check_image.py runs the image against PostgreSQL: non-root, migrate, ready, register
#     + task, /metrics, SIGTERM drain; any failure fails the stage;
#  4. deploy/kubernetes rendered with `kubectl kustomize` and validated offline with
#     `kubernetes-validate --strict` (its schemas ship in the package).
# Needs: the backend's venv (make lint/test made it), PostgreSQL at $PG_URL.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${CI_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
CACHE="${TODO_IMAGE_CACHE:-$HOME/.cache/todo-image-ci}"
IMAGE=localhost/todo-api:ci
KUBERNETES_VALIDATE_VERSION=1.37.0
# The base's recipe: what goes into the key. The week refreshes Debian's security updates.
BASE_SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,ca-certificates
BASE_KEY=$(printf '%s\n' "$BASE_SUITE" minbase "$BASE_PACKAGES" "$(date -u +%G-%V)" |
  sha256sum | cut -c1-16)
BASE_TAR="$CACHE/base-$BASE_KEY.tar"
BASE_IMAGE="localhost/todo-base:$BASE_KEY"

note() { printf -- '--- %s\n' "$*"; }
started=$SECONDS

missing=()
for tool in podman buildah mmdebstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  note "installing Debian's ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah mmdebstrap >/dev/null
fi
mkdir -p "$CACHE"

if ! podman image exists "$BASE_IMAGE"; then
  if [ ! -s "$BASE_TAR" ]; then
    note "making the base ($BASE_SUITE minbase + $BASE_PACKAGES) with mmdebstrap"
    rm -f "$CACHE"/base-*.tar
    mmdebstrap --quiet --variant=minbase --format=tar --include="$BASE_PACKAGES" \
      "$BASE_SUITE" "$BASE_TAR.part"
    mv "$BASE_TAR.part" "$BASE_TAR"
  fi
  note "importing $BASE_TAR as $BASE_IMAGE"
  # Last week's base (another key) goes: only one is kept, in the tar cache and in podman.
  podman images --format '{{.Repository}}:{{.Tag}}' localhost/todo-base |
    xargs --no-run-if-empty podman rmi --force >/dev/null 2>&1 || true
  podman import --quiet "$BASE_TAR" "$BASE_IMAGE" >/dev/null
fi

# CI runs the image on Debian 12's Python 3.11; the default base (python:3.12-slim) cannot be
# pulled here. What can be checked without it: the lock installs from wheels alone (a slim base
# has no compiler) on both, for the base's glibc.
note "uv.lock resolves to wheels only for CPython 3.11 and 3.12 on x86_64 glibc 2.36"
requirements="$CACHE/requirements.txt"
(cd backend && UV_PYTHON_DOWNLOADS=never ../.tools/bin/uv export --quiet --frozen --no-dev \
  --no-hashes --no-emit-project -o "$requirements")
for version in 3.11 3.12; do
  .tools/bin/uv pip compile --quiet --no-header --python-version "$version" \
    --python-platform x86_64-manylinux_2_36 --only-binary :all: --no-deps "$requirements" \
    -o /dev/null
done

note "building $IMAGE from $BASE_IMAGE (docker format: it keeps the HEALTHCHECK)"
podman build --quiet --format=docker --isolation=chroot --pull=never --network=host \
  --build-arg "BASE=$BASE_IMAGE" \
  --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt \
  -f Containerfile -t "$IMAGE" . >/dev/null
echo "built in $((SECONDS - started)) s"

# A database of its own, dropped afterwards: the image's migrations start from nothing.
db="todo_image_ci_$$"
admin_url="${PG_URL%/*}/postgres"
psql -q "$admin_url" -c "CREATE DATABASE $db"
trap 'psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
note "running the image's checks against ${PG_URL%/*}/$db"
backend/.venv/bin/python deploy/check_image.py "$IMAGE" "${PG_URL%/*}/$db"

note "rendering deploy/kubernetes and validating it offline (kubernetes-validate --strict)"
validate="$CACHE/validate-$KUBERNETES_VALIDATE_VERSION"
if [ ! -x "$validate/bin/kubernetes-validate" ]; then
  python3 -m venv "$validate"
  "$validate/bin/pip" install --quiet "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
rendered="$CACHE/kubernetes.yaml"
kubectl kustomize deploy/kubernetes >"$rendered"
"$validate/bin/kubernetes-validate" --strict --quiet "$rendered"
echo "$(grep -c '^kind:' "$rendered") resources valid"

# Podman keeps every build's layers: they are the next build's cache (the wheels layer costs
# minutes). Only those unused for two days go, so that the storage does not grow for ever.
podman image prune --force --filter until=48h >/dev/null
echo "image stage took $((SECONDS - started)) s"
