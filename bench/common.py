"""What every part of the benchmark shares: paths, the settings read from the environment, and
the output (the terminal and bench/results/latest.txt)."""

from __future__ import annotations

import os
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BACKEND = ROOT / "backend"
RESULTS = BENCH / "results"
LUA = BENCH / "scenario.lua"
PASSWORD = "bench-password-1234"
SEARCH_WORD = "invoice"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# --- configuration (environment) ----------------------------------------------------------------

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/todo_bench"
DURATION = env_int("BENCH_DURATION", 15)  # seconds per scenario
WARMUP = env_int("BENCH_WARMUP", 3)  # seconds of unrecorded load before each scenario
SOAK = env_int("BENCH_SOAK", 60)
WORKERS = env_int("WORKERS", 2)
USERS = env_int("BENCH_USERS", 1000)
TASKS_PER_USER = env_int("BENCH_TASKS_PER_USER", 100)
CONNECTIONS = env_int("BENCH_CONNECTIONS", 100)
CLIFF_CONNECTIONS = env_int("BENCH_CLIFF_CONNECTIONS", 300)
WRK_THREADS = env_int("BENCH_WRK_THREADS", 2)
PROFILE = os.environ.get("BENCH_PROFILE", "") not in ("", "0")
SCENARIOS = (
    "list",
    "reference",
    "events",
    "get",
    "create_delete",
    "me",
    "login",
    "cliff",
    "soak",
    "pooler",
    "scaleout",
    "metrics",
    "large",
    "sqlite",
    "webhooks",
)
ONLY = {s.strip() for s in (os.environ.get("BENCH_ONLY") or ",".join(SCENARIOS)).split(",") if s.strip()}


# --- output: the terminal and bench/results/latest.txt ------------------------------------------

RESULTS.mkdir(exist_ok=True)
_log_file = (RESULTS / "latest.txt").open("w", encoding="utf-8")


def say(line: str = "") -> None:
    print(line, flush=True)
    _log_file.write(line + "\n")
    _log_file.flush()


def fail(message: str) -> None:
    say(f"error: {message}")
    raise SystemExit(2)
