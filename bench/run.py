"""`make bench`: load benchmark of the production server against PostgreSQL, beside a raw
reference app, and of the embedded default on SQLite (see bench/README.md).

Recreates a database of its own, migrates and seeds it (1,000 users x 100 tasks, straight into
PostgreSQL), starts `python -m app serve` as production would, mints access tokens the way the
app does, then drives it with wrk (closed loop) and prints throughput, latency percentiles,
errors, per-worker memory, the ratio to a raw reference app, query plans and PASS/FAIL lines
for the targets. Then it runs the SQLite scenario (`python -m app run`, as `make run`).
Everything printed is also written to bench/results/latest.txt.

The parts: common.py (settings, output), seed.py (database), plans.py (EXPLAIN), server.py
(processes), load.py (wrk), profiling.py (py-spy), report.py (tables and targets),
sqlite_scenario.py (SQLite), events_scenario.py (1,000 event streams), metrics_scenario.py
(the list with /metrics on and off), reference_app.py (the raw reference).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from common import (
    BACKEND,
    CLIFF_CONNECTIONS,
    CONNECTIONS,
    DATABASE_URL,
    DURATION,
    ONLY,
    PASSWORD,
    PROFILE,
    RESULTS,
    ROOT,
    SCENARIOS,
    SOAK,
    TASKS_PER_USER,
    USERS,
    WARMUP,
    WORKERS,
    env_int,
    fail,
    say,
)
from events_scenario import run_events
from large_data import run_large
from load import Load, Result, ensure_wrk
from metrics_scenario import run_metrics
from plans import explain_plans
from pooler import run_pooler
from profiling import profile_list
from report import platform_memory, report
from scale_out import run_scale_out
from seed import migrate, recreate_database, seed
from server import Server, compare_lists, free_port, http, memory_kb, start_reference, start_server
from sqlite_scenario import run_sqlite
from webhooks_scenario import run_webhooks


def main() -> None:
    started = time.monotonic()
    unknown = ONLY - set(SCENARIOS)
    if unknown:
        fail(f"BENCH_ONLY names unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    say(f"# Todo API benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    wrk = ensure_wrk()
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
    say(f"host: {os.cpu_count()} CPU(s), {platform_memory()}; {' '.join(wrk_version)}; python {sys.version.split()[0]}")
    say(
        f"durations: {DURATION} s per scenario after {WARMUP} s warm-up, soak {SOAK} s "
        f"(BENCH_DURATION, BENCH_WARMUP, BENCH_SOAK)"
    )
    os.chdir(BACKEND)
    sys.path.insert(0, str(BACKEND))
    if ONLY - {"sqlite", "webhooks"}:
        run_postgres(wrk)
    if "webhooks" in ONLY:
        run_webhooks()
    if "sqlite" in ONLY:
        run_sqlite(wrk)
    say(f"total time {time.monotonic() - started:.0f} s; this output: bench/results/latest.txt")


def run_postgres(wrk: str) -> None:
    """Every scenario on PostgreSQL: seed, plans, the production server, the reference, report."""
    port = env_int("BENCH_PORT", 0) or free_port()
    server_env = os.environ | {
        "DATABASE_URL": DATABASE_URL,
        "APP_ENV": "production",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(WORKERS),
        # Seeding and the login scenarios log in far more often than any person would.
        "LOGIN_RATE_LIMIT": "1000000/minute",
        "REGISTER_RATE_LIMIT": "1000000/hour",
    }
    server_env.pop("BETTER_AUTH_URL", None)
    # The service's own settings, read from the same environment the server gets.
    os.environ.update(server_env)
    from app.accounts.passwords import PasswordHasher
    from app.core.config import load_settings
    from app.tasks.listing import search_text

    settings = load_settings()
    say(
        f"database: {DATABASE_URL} (recreated); WORKERS={WORKERS}; BCRYPT_ROUNDS={settings.bcrypt_rounds}; "
        f"pool {settings.db_pool_size}+{settings.db_max_overflow} per worker, timeout {settings.db_pool_timeout} s; "
        f"LOG_LEVEL={settings.log_level}"
    )
    say()

    say(f"== seeding {USERS} users x {TASKS_PER_USER} tasks")
    t0 = time.monotonic()
    asyncio.run(recreate_database(DATABASE_URL))
    migrate(server_env)
    # One bcrypt hash made by the app's own hasher (HMAC-SHA256 prehash, base64, bcrypt at the
    # configured cost), shared by every seeded user.
    password_hash = PasswordHasher(settings.bcrypt_rounds, concurrency=1)._hash(PASSWORD)
    seeded = asyncio.run(seed(DATABASE_URL, password_hash, search_text))
    say(f"seeded in {time.monotonic() - t0:.1f} s (COPY, one precomputed hash, one session per user, VACUUM ANALYZE)")
    say(
        "the reference's own table has the same tasks with every v2 member (0-3 tags each, due dates for 4 in 10); "
        + (
            f"our tasks got the v2 members {', '.join(seeded.v2_in_tasks)}"
            if seeded.v2_in_tasks
            else "our tasks table has none of them yet"
        )
    )
    say()

    say("== query plans for one seeded user (EXPLAIN ANALYZE, BUFFERS) of the statements the app builds")
    try:
        plans_ok = asyncio.run(explain_plans(settings, seeded))
    except Exception as error:  # the app's internals moved: say so, and go on with the load
        say(
            f"could not capture the app's statements ({type(error).__name__}: {error}); "
            "bench/run.py explain_plans() needs updating"
        )
        plans_ok = False
    say()

    say(f"== starting `python -m app serve` (APP_ENV=production, WORKERS={WORKERS}) on port {port}")
    app = start_server("server", [sys.executable, "-m", "app", "serve"], BACKEND, server_env, port)
    ref: Server | None = None
    load: Load | None = None
    results: dict[str, Result] = {}
    app_memory: dict[int, dict[str, int]] = {}
    soak_before: dict[int, dict[str, int]] = {}
    try:
        app_workers = app.workers()
        say(f"serve pid {app.process.pid}, workers {app_workers}; log in {app.log_path.relative_to(ROOT)}")
        status, _, body = http(
            "POST",
            app.base + "/api/auth/login",
            body={"email": seeded.emails[0], "password": PASSWORD},
        )
        if status != 200:
            fail(f"sanity login answered {status}: {body}")
        status, headers, body = http("GET", app.base + "/api/tasks", token=body["access_token"])
        if status != 200 or len(body) != min(20, TASKS_PER_USER):
            fail(f"sanity list answered {status}: {str(body)[:300]}")
        say(f"sanity: login 200, list 200 with {len(body)} tasks, X-Total-Count {headers.get('x-total-count')}")
        say()

        load = Load(wrk, settings, seeded)
        say("== load (wrk, closed loop)")
        ref_memory: dict[int, dict[str, int]] = {}

        def scenario(
            key: str,
            name: str,
            server: Server,
            mode: str,
            connections: int,
            seconds: int = DURATION,
            **options: Any,
        ) -> None:
            if key.split(":")[0] in ONLY:
                results[key] = load.run(name, server, mode, connections, seconds, **options)  # type: ignore[union-attr]

        scenario("list", "list GET /api/tasks", app, "list", CONNECTIONS)
        if "reference" in ONLY:
            ref = start_reference(settings)
            say(f"  {compare_lists(app, ref, load.token(0, 60))}")
            scenario("reference", "raw reference list (reference_app)", ref, "list", CONNECTIONS)
            ref_memory = {pid: memory_kb(pid) for pid in ref.workers()}
            ref.stop()
            ref = None
        if "events" in ONLY:
            run_events(load, app, results)
        scenario("get", "get GET /api/tasks/{id}", app, "get", CONNECTIONS)
        scenario("create_delete", "create+delete POST, DELETE", app, "create_delete", CONNECTIONS)
        scenario("me", "me GET /api/auth/me", app, "me", CONNECTIONS)
        scenario("login:1", "login POST /api/auth/login", app, "login", 1)
        scenario("login:10", "login POST /api/auth/login", app, "login", 10)
        scenario("cliff", f"list at {CLIFF_CONNECTIONS} connections", app, "list", CLIFF_CONNECTIONS)
        if PROFILE:
            say()
            profile_list(load, app)
            say()
        soak_before = {pid: memory_kb(pid) for pid in app.workers()}
        scenario("soak", "soak list+get mix", app, "mix", CONNECTIONS, SOAK, warmup=0, sample_rss=True)
        app_memory = {pid: memory_kb(pid) for pid in [app.process.pid, *app.workers()]}
    finally:
        if ref is not None:
            ref.stop()
        app.stop()
        if load is not None and load.stats_connection is not None:
            load.loop.run_until_complete(load.stats_connection.close())
        (RESULTS / "users.txt").unlink(missing_ok=True)  # tokens, useless without the secret

    report(results, settings, app, app_memory, ref_memory, soak_before, plans_ok)

    # Issue 17, parts 3-5, each beside this run's list: through PgBouncer, two instances, large data.
    beside = Load(wrk, settings, seeded)
    try:
        if "pooler" in ONLY:
            run_pooler(beside, server_env, settings, results.get("list"))
        if "scaleout" in ONLY:
            run_scale_out(beside, server_env)
        if "metrics" in ONLY:
            run_metrics(beside, server_env)
    finally:
        if beside.stats_connection is not None:
            beside.loop.run_until_complete(beside.stats_connection.close())
    if "large" in ONLY:
        run_large(wrk, settings, server_env, password_hash, results.get("list"))


if __name__ == "__main__":
    main()
