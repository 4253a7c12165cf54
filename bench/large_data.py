"""Issue 17, part 3: costs that stay flat as data grows. A database of its own with 10,000 users
x 100 tasks and one user with 50,000 (large_seed.py), the production server on it, then:

- the ordinary users' list at CONNECTIONS connections, beside the small-data list of this run;
- the heavy user at one connection: the default page, a tag filter, `overdue=true`, sort by due,
  a common and a rare search (p99 targets 50 ms, search 100 ms);
- what `X-Total-Count` costs there: the count statement alone beside the whole page statement;
- a full delta sync of the heavy user (every page, from no cursor), and a sync with a recent
  cursor at one connection.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from typing import Any
from urllib.parse import quote

from common import BACKEND, CONNECTIONS, DATABASE_URL, DURATION, ROOT, say
from large_seed import HEAVY_TASKS, LARGE_TASKS_PER_USER, LARGE_USERS, LargeSeeded, seed_large
from load import Load, Result
from report import print_table, print_usage
from scale_out import environment
from seed import Seeded, asyncpg_dsn, migrate, recreate_database
from server import Server, free_port, http, start_server


def large_database_url() -> str:
    """BENCH_LARGE_DATABASE_URL, or the bench database's URL with `_large` after its name."""
    explicit = os.environ.get("BENCH_LARGE_DATABASE_URL")
    if explicit:
        return explicit
    base, _, query = DATABASE_URL.partition("?")
    return base + "_large" + (f"?{query}" if query else "")


class LargeLoad(Load):
    """Load, with PostgreSQL's counters read from the large database."""

    def __init__(self, wrk: str, settings: Any, seeded: Seeded, url: str) -> None:
        super().__init__(wrk, settings, seeded)
        self.url = url

    def pg_counters(self) -> tuple[int, int]:
        import asyncpg

        async def read() -> tuple[int, int]:
            if self.stats_connection is None:
                self.stats_connection = await asyncpg.connect(asyncpg_dsn(self.url))
            row = await self.stats_connection.fetchrow(
                "SELECT xact_commit + xact_rollback AS xacts, sessions FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
            return int(row["xacts"]), int(row["sessions"])

        return self.loop.run_until_complete(read())

    def close(self) -> None:
        if self.stats_connection is not None:
            self.loop.run_until_complete(self.stats_connection.close())
            self.stats_connection = None


HEAVY_QUERIES = [
    ("default page", "/api/tasks", 50),
    ("tag=work", "/api/tasks?tag=work", 50),
    ("overdue=true", "/api/tasks?overdue=true", 50),
    ("sort=due", "/api/tasks?sort=due", 50),
    ("search=invoice (1 in 13)", "/api/tasks?search=invoice", 100),
    ("search=garden #4242 (rare)", "/api/tasks?search=" + quote("garden #4242"), 100),
]


async def count_costs(url: str, seeded: Seeded) -> list[tuple[str, float, float, int]]:
    """(label, page statement ms, count statement ms, matches) for the heavy user: the median
    of 20 runs of each statement the app builds, with its values inlined (a custom plan)."""
    import asyncpg
    from app.accounts.sessions import Caller
    from app.tasks.listing import list_statements
    from app.tasks.schemas import TaskQuery
    from sqlalchemy.dialects import postgresql

    caller = Caller(seeded.user_ids[0], seeded.session_ids[0])
    queries = [
        ("default page", TaskQuery()),
        ("tag=work", TaskQuery(tag=["work"])),
        ("overdue=true", TaskQuery(overdue=True)),
        ("sort=due", TaskQuery(sort="due")),
        ("search=invoice", TaskQuery(search="invoice")),
    ]
    dialect = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]
    found = []
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for label, query in queries:
            page, count = (
                str(s.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
                for s in list_statements(caller=caller, query=query)
            )
            timings = []
            for sql in (page, count):
                runs = []
                for _ in range(20):
                    started = time.perf_counter()
                    rows = await connection.fetch(sql)
                    runs.append(1000 * (time.perf_counter() - started))
                timings.append(statistics.median(runs))
            found.append((label, timings[0], timings[1], int(rows[0][0])))
    finally:
        await connection.close()
    return found


def full_sync(app: Server, token: str, limit: int) -> tuple[float, int, int, str]:
    """Every page of /api/tasks/sync from no cursor: (seconds, tasks, pages, final cursor)."""
    started = time.monotonic()
    cursor: str | None = None
    tasks = pages = 0
    while True:
        path = f"/api/tasks/sync?limit={limit}" + (f"&cursor={quote(cursor)}" if cursor else "")
        status, _, body = http("GET", app.base + path, token=token)
        if status != 200:
            raise RuntimeError(f"sync answered {status}: {str(body)[:300]}")
        tasks += len(body["tasks"])
        pages += 1
        cursor = body["cursor"]
        if not body["has_more"]:
            return time.monotonic() - started, tasks, pages, cursor


def run_large(wrk: str, settings: Any, server_env: dict[str, str], password_hash: str, small: Result | None) -> None:
    url = large_database_url()
    say(
        f"== large data: {LARGE_USERS:,} users x {LARGE_TASKS_PER_USER} tasks + one user with {HEAVY_TASKS:,} "
        f"({url}, recreated)"
    )
    started = time.monotonic()
    asyncio.run(recreate_database(url))
    env = server_env | {"DATABASE_URL": url}
    migrate(env)
    seeded: LargeSeeded = asyncio.run(seed_large(url, password_hash, CONNECTIONS))
    say(f"  seeded {seeded.tasks:,} tasks in {time.monotonic() - started:.1f} s (migrations included)")

    port = free_port()
    app = start_server("server-large", [sys.executable, "-m", "app", "serve"], BACKEND, env | {"PORT": str(port)}, port)
    ordinary = LargeLoad(wrk, settings, seeded.ordinary, url)
    heavy = LargeLoad(wrk, settings, seeded.heavy, url)
    results: list[Result] = []
    latencies: list[tuple[str, Result, int]] = []
    sync_lines: list[str] = []
    sync_ok: list[bool] = []
    try:
        say(f"  serve pid {app.process.pid} on port {port}; log in {app.log_path.relative_to(ROOT)}")
        results.append(ordinary.run("large: ordinary users' list", app, "list", CONNECTIONS, DURATION))
        for label, path, target in HEAVY_QUERIES:
            with environment(BENCH_PATH=path):
                result = heavy.run(f"heavy: {label}", app, "path", 1, DURATION)
            results.append(result)
            latencies.append((label, result, target))

        token = heavy.token(0, 600)
        status, headers, _ = http("GET", app.base + "/api/tasks", token=token)
        say(f"  heavy user's X-Total-Count: {headers.get('x-total-count')} (status {status})")
        for limit in (500, 1000):
            seconds, tasks, pages, cursor = full_sync(app, token, limit)
            sync_ok.append(seconds < 5 and tasks == HEAVY_TASKS)
            sync_lines.append(
                f"full delta sync of the heavy user, limit={limit}: {seconds:.2f} s "
                f"for {tasks:,} tasks in {pages} pages"
            )
        # A recent cursor: the end of the full sync, then ten changes.
        status, _, page = http("GET", app.base + "/api/tasks?limit=10", token=token)
        for task in page:
            http("PATCH", app.base + f"/api/tasks/{task['id']}", token=token, body={"priority": "Low"})
        with environment(BENCH_PATH=f"/api/tasks/sync?cursor={quote(cursor)}"):
            recent = heavy.run("heavy: sync, recent cursor (10 changes)", app, "path", 1, DURATION)
        results.append(recent)
        latencies.append(("sync with a recent cursor", recent, 20))
    finally:
        app.stop()
        ordinary.close()
        heavy.close()

    costs = asyncio.run(count_costs(url, seeded.heavy))

    say()
    say("== large data: results (latency in ms)")
    print_table(results)
    say()
    print_usage(results)
    say()
    say("X-Total-Count's cost for the heavy user (median of 20 runs, in PostgreSQL, values inlined):")
    for label, page_ms, count_ms, total in costs:
        say(
            f"  {label:<16} page statement {page_ms:6.1f} ms, of which the count alone {count_ms:6.1f} ms "
            f"({total:,} matches)"
        )
    for line in sync_lines:
        say("  " + line)
    say()
    say("== large data: targets")

    def verdict(ok: bool, text: str) -> None:
        say(f"{'PASS' if ok else 'FAIL'}  {text}")

    listing = results[0]
    if small is not None:
        ratio = listing.rps / small.rps
        verdict(
            ratio >= 0.9,
            f"ordinary user's list within 10 % of the small-data run: {listing.rps:.0f} vs {small.rps:.0f} req/s "
            f"({100 * ratio:.0f} %)",
        )
        # Throughput moves with whatever else shares the machine; the work per request does not.
        large_u, small_u = listing.usage, small.usage
        say(
            f"      CPU per request, large vs small data: app {large_u['server_us']:.0f} vs "
            f"{small_u['server_us']:.0f} us, PostgreSQL {large_u['postgres_us']:.0f} vs "
            f"{small_u['postgres_us']:.0f} us; other load {large_u['other_cores']:.2f} vs "
            f"{small_u['other_cores']:.2f} cores"
        )
    else:
        say(f"(no small-data list in this run: the ordinary user's list made {listing.rps:.0f} req/s)")
    errors = sum(r.socket_errors + r.non_2xx for r in results)
    verdict(errors == 0, f"zero errors in the large-data runs: {errors}")
    for label, result, target in latencies:
        verdict(
            result.ms("p99") < target,
            f"heavy user, {label}: p99 {result.ms('p99'):.1f} ms < {target} ms at 1 connection",
        )
    for ok, line in zip(sync_ok, sync_lines, strict=True):
        verdict(ok, line + " (< 5 s)")
    say()
