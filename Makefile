# The commands: `make run`, `make test` and `make web`. Everything else here serves them.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9

ROOT := $(abspath .)
BACKEND := $(ROOT)/backend
FRONTEND := $(ROOT)/frontend
TOOLS := $(ROOT)/.tools
UV := $(TOOLS)/bin/uv
VENV := $(BACKEND)/.venv
PY := $(VENV)/bin/python
SYNCED := $(VENV)/.synced
# npm ci leaves this copy of the lock file behind: installed, and from this lock file.
NODE_MODULES := $(FRONTEND)/node_modules/.package-lock.json

# uv uses the machine's Python; it never downloads one.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run web serve migrate openapi test lint typecheck check bench clean

run: $(SYNCED) ## Serve the API on http://$${HOST:-127.0.0.1}:$${PORT:-8000} (SQLite unless DATABASE_URL says otherwise)
	cd $(BACKEND) && exec $(PY) -m app run

web: $(SYNCED) $(NODE_MODULES) ## The whole system: the Next.js app on http://localhost:3000, signed in with Better Auth, over the API on :8000
	exec $(FRONTEND)/scripts/web.sh

serve: $(SYNCED) ## Production server: WORKERS processes (default: CPU cores)
	cd $(BACKEND) && exec $(PY) -m app serve

migrate: $(SYNCED) ## Apply database migrations to DATABASE_URL
	cd $(BACKEND) && $(PY) -m app migrate

openapi: $(SYNCED) ## Rewrite backend/tests/openapi.json, the committed OpenAPI document, after an API change
	cd $(BACKEND) && $(PY) -m app openapi > tests/openapi.json

test: $(SYNCED) ## Whole suite on SQLite, or on TEST_DATABASE_URL's PostgreSQL when set
	cd $(BACKEND) && $(PY) -m pytest $(PYTEST_ARGS)

lint: $(SYNCED)
	cd $(BACKEND) && $(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: $(SYNCED)
	cd $(BACKEND) && $(VENV)/bin/mypy

check: lint typecheck test

bench: $(SYNCED) ## Load benchmark: PostgreSQL beside a raw reference, and SQLite as `make run` serves it (see bench/README.md)
	cd $(ROOT) && $(PY) bench/run.py

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): $(UV) $(BACKEND)/uv.lock $(BACKEND)/pyproject.toml
	cd $(BACKEND) && $(UV) sync --frozen --python $(PYTHON) --quiet
	touch $@

$(NODE_MODULES): $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	cd $(FRONTEND) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

clean:
	rm -rf $(TOOLS) $(VENV) $(FRONTEND)/node_modules $(FRONTEND)/.next
