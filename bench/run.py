"""`make bench`: load benchmark of the production server against PostgreSQL (see bench/README.md).

Recreates a database of its own, migrates and seeds it (1,000 users x 100 tasks, straight into
PostgreSQL), starts `python -m app serve` as production would, mints access tokens the way the
app does, then drives it with wrk (closed loop) and prints throughput, latency percentiles,
errors, per-worker memory, the ratio to a minimal reference app, query plans and PASS/FAIL lines
for the targets. Everything printed is also written to bench/results/latest.txt.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
SCENARIOS = ("list", "reference", "get", "create_delete", "me", "login", "cliff", "soak")
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


# --- wrk ----------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is not installed: installing it with apt-get (Debian/Ubuntu package `wrk`)...")
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        for attempt in (
            ["apt-get", "install", "-y", "-q", "wrk"],
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "wrk"],
        ):
            result = subprocess.run(attempt, env=env, capture_output=True, text=True)
            if attempt[1] == "install" and result.returncode == 0:
                break
        found = shutil.which("wrk")
        if found:
            return found
        say((result.stdout + result.stderr).strip()[-2000:])
    fail(
        "the benchmark needs wrk (https://github.com/wg/wrk) and could not install it. "
        "Install it yourself (`sudo apt-get install wrk`, `brew install wrk`, or build it from "
        "source) and run `make bench` again."
    )
    raise AssertionError  # unreachable


# --- database -----------------------------------------------------------------------------------


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    parts = urlsplit(url)
    scheme = "postgresql"
    path = f"/{database}" if database is not None else parts.path
    query = "&".join(q for q in parts.query.split("&") if q and not q.startswith("channel_binding"))
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name:
        fail(f"BENCH_DATABASE_URL names no database: {url}")
    return name


async def recreate_database(url: str) -> None:
    import asyncpg

    name = database_name(url)
    if "bench" not in name and os.environ.get("BENCH_ALLOW_DROP") != "1":
        fail(
            f"refusing to drop and recreate database {name!r}: its name does not contain "
            "'bench'. Use a database of its own, or set BENCH_ALLOW_DROP=1."
        )
    connection = await asyncpg.connect(asyncpg_dsn(url, "postgres"))
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await connection.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        await connection.execute(f"CREATE DATABASE {quoted}")
    finally:
        await connection.close()


TITLE_VERBS = ["Buy", "Call", "Email", "Fix", "Plan", "Review", "Pay", "Book", "Clean", "Write"]
TITLE_NOUNS = [
    "milk",
    "dentist",
    "invoice",
    "report",
    "garden",
    "flight",
    "budget",
    "laundry",
    "backup",
    "birthday gift",
    "taxes",
    "meeting notes",
    "car service",
    "groceries",
    "slides",
    "newsletter",
    "insurance",
    "bike",
    "passport",
    "roof",
]
DESCRIPTIONS = [
    "Before Friday, ask about the {n}.",
    "Check the {n} twice and send a summary.",
    "Low effort; do it with the {n}.",
    "Waiting on someone else for the {n}.",
]


@dataclass
class Seeded:
    user_ids: list[uuid.UUID]
    emails: list[str]
    session_ids: list[uuid.UUID]
    task_ids: list[uuid.UUID]  # one task of each user, for GET /api/tasks/{id}


async def seed(url: str, password_hash: str, search_text: Any) -> Seeded:
    import asyncpg

    rng = random.Random(20261125)
    now = datetime.now(UTC)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        user_ids = [uuid.uuid4() for _ in range(USERS)]
        emails = [f"bench-user-{i:04d}@example.com" for i in range(USERS)]
        users = [
            (
                uid,
                email,
                f"Bench User {i}",
                password_hash,
                now - timedelta(days=120),
                now - timedelta(days=120),
            )
            for i, (uid, email) in enumerate(zip(user_ids, emails, strict=True))
        ]
        await connection.copy_records_to_table(
            "users",
            records=users,
            columns=["id", "email", "name", "password_hash", "created_at", "updated_at"],
        )

        tasks: list[tuple[Any, ...]] = []
        first_tasks: list[uuid.UUID] = []
        for uid in user_ids:
            for j in range(TASKS_PER_USER):
                task_id = uuid.uuid4()
                if j == 0:
                    first_tasks.append(task_id)
                noun = rng.choice(TITLE_NOUNS)
                title = f"{rng.choice(TITLE_VERBS)} {noun} #{j}"
                description = rng.choice(DESCRIPTIONS).format(n=rng.choice(TITLE_NOUNS)) if rng.random() < 0.6 else None
                created = now - timedelta(days=90) + timedelta(seconds=rng.randrange(90 * 86400))
                updated = created + timedelta(seconds=rng.randrange(86400))
                tasks.append(
                    (
                        task_id,
                        uid,
                        title,
                        description,
                        rng.random() < 0.3,
                        rng.choice((1, 2, 2, 3)),
                        search_text(title, description),
                        created,
                        updated,
                    )
                )
        await connection.copy_records_to_table(
            "tasks",
            records=tasks,
            columns=[
                "id",
                "user_id",
                "title",
                "description",
                "completed",
                "priority",
                "search_text",
                "created_at",
                "updated_at",
            ],
        )

        # One login session per user, as /api/auth/login would create (access tokens name it).
        session_ids = [uuid.uuid4() for _ in range(USERS)]
        await connection.copy_records_to_table(
            "auth_sessions",
            records=[(sid, uid, now, now + timedelta(days=7)) for sid, uid in zip(session_ids, user_ids, strict=True)],
            columns=["id", "user_id", "created_at", "expires_at"],
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return Seeded(user_ids, emails, session_ids, first_tasks)


# --- EXPLAIN ------------------------------------------------------------------------------------


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("'", "''") + "'"


async def explain_plans(settings: Any, seeded: Seeded) -> bool:
    """EXPLAIN the statements the app itself builds (captured from app.accounts and app.tasks), for one user."""
    import asyncpg
    from app.accounts.sessions import Caller, get_user_for_session
    from app.core.database import create_database, create_engine
    from app.tasks.queries import list_tasks
    from app.tasks.schemas import TaskQuery
    from sqlalchemy import event

    engine = create_engine(settings)
    database = create_database(engine, settings)
    captured: list[tuple[str, tuple[Any, ...]]] = []

    # The app sends its hot SELECTs straight to asyncpg (app.core.statements.fetch_all) and the rest
    # through SQLAlchemy: listen to both.
    def through_sqlalchemy(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, tuple(parameters or ())))

    def through_asyncpg(query: Any) -> None:
        captured.append((query.query, tuple(query.args or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", through_sqlalchemy)
    user_id, session_id = seeded.user_ids[0], seeded.session_ids[0]
    caller = Caller(user_id, session_id)
    labelled: list[tuple[str, str, tuple[Any, ...]]] = []
    async with database.reader.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        driver.add_query_logger(through_asyncpg)
        for label, call in (
            (
                "session lookup (every authenticated request but the task reads)",
                get_user_for_session(connection=connection, user_id=user_id, session_id=session_id),
            ),
            (
                "default list (sort=-created_at, page 1, limit 20; checks the session too)",
                list_tasks(connection=connection, caller=caller, query=TaskQuery()),
            ),
            (
                f"filtered list (status=active&search={SEARCH_WORD})",
                list_tasks(
                    connection=connection,
                    caller=caller,
                    query=TaskQuery(status="active", search=SEARCH_WORD),
                ),
            ),
        ):
            before = len(captured)
            await call
            await asyncio.sleep(0)  # asyncpg calls its query loggers with call_soon
            sent = captured[before:]
            for number, (statement, params) in enumerate(sent, start=1):
                # A call that sends several statements gets them numbered.
                name = f"{label}, statement {number} of {len(sent)}" if len(sent) > 1 else label
                labelled.append((name, statement, params))
        driver.remove_query_logger(through_asyncpg)
    await engine.dispose()

    seq_scans = 0
    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url.replace("+asyncpg", "")))
    try:
        for index, (label, statement, params) in enumerate(labelled):
            say(f"--- {label}")
            say("    " + " ".join(statement.split()))
            say(f"    parameters: {', '.join(sql_literal(p) for p in params)}")
            say("  custom plan (what PostgreSQL picks for these values):")
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", *params)
            plan = [row[0] for row in rows]
            # asyncpg keeps prepared statements: after 5 runs PostgreSQL may switch to a generic
            # plan, made without the values. Show that one too.
            name = f"bench_q{index}"
            await connection.execute(f"PREPARE {name} AS {statement}")
            await connection.execute("SET plan_cache_mode = force_generic_plan")
            args = ", ".join(sql_literal(p) for p in params)
            rows = await connection.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({args})"
                if params
                else f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}"
            )
            await connection.execute("RESET plan_cache_mode")
            generic = [row[0] for row in rows]
            for line in plan:
                say("    " + line)
            say("  generic plan (what a cached prepared statement may use):")
            for line in generic:
                say("    " + line)
            seq_scans += sum("Seq Scan on tasks" in line for line in plan + generic)
    finally:
        await connection.close()
    return seq_scans == 0


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """Worker processes: the serve process's children started by multiprocessing (spawn)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.process.pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
        return sorted(found) or [self.process.pid]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def worker_connections(server: Server) -> list[int]:
    """Established client connections each worker holds (they are spread by the kernel's accept)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == server.port:
                inodes.add(f"socket:[{fields[9]}]")
    counts = []
    for pid in server.workers():
        count = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    count += os.readlink(fd) in inodes
                except OSError:
                    continue
        except OSError:
            pass
        counts.append(count)
    return counts


def memory_kb(pid: int) -> dict[str, int]:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


def start_server(name: str, command: list[str], cwd: Path, env: dict[str, str], port: int) -> Server:
    log_path = RESULTS / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, process, port, log_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(
                f"{name} exited with {process.returncode}; see {log_path}:\n"
                + log_path.read_text(errors="replace")[-3000:]
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            if len(server.workers()) >= WORKERS or WORKERS == 1:
                time.sleep(1.0)  # let every worker finish its start-up
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    fail(f"{name} did not start listening on port {port} within 90 s; see {log_path}")
    raise AssertionError


def http(method: str, url: str, *, token: str | None = None, body: Any = None) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, dict(error.headers), raw.decode(errors="replace")


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    connections: int
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_us: dict[str, float]
    statuses: dict[int, int]
    missing_retry_after: int
    samples: list[tuple[float, dict[int, int]]] = field(default_factory=list)
    usage: dict[str, float] = field(default_factory=dict)
    spread: list[int] = field(default_factory=list)  # client connections per worker, mid-run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def socket_errors(self) -> int:
        return sum(self.errors[k] for k in ("connect", "read", "write", "timeout"))

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    def ms(self, key: str) -> float:
        return self.latency_us[key] / 1000


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int, *, reaped: bool = False) -> float:
    """CPU seconds (user + system) a process has used so far, or with `reaped` the CPU of its
    children that have exited and been waited for; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        first = 13 if reaped else 11  # utime, stime / cutime, cstime
        return (int(fields[first]) + int(fields[first + 1])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@dataclass
class Snapshot:
    at: float
    busy: float  # CPU seconds all cores spent not idle, machine-wide
    interrupts: float  # of which in (soft) interrupts
    steal: float  # CPU seconds the hypervisor gave to other guests
    server: float
    postgres: dict[int, float]
    pg_reaped: float
    wrk: float
    pg_xacts: int
    pg_sessions: int


class Load:
    def __init__(self, wrk: str, settings: Any, seeded: Seeded) -> None:
        self.wrk = wrk
        self.settings = settings
        self.seeded = seeded
        self.loop = asyncio.new_event_loop()
        self.stats_connection: Any = None

    def pg_counters(self) -> tuple[int, int]:
        """Transactions (commits + rollbacks) and sessions opened so far in the bench database."""
        import asyncpg

        async def read() -> tuple[int, int]:
            if self.stats_connection is None:
                self.stats_connection = await asyncpg.connect(asyncpg_dsn(DATABASE_URL))
            row = await self.stats_connection.fetchrow(
                "SELECT xact_commit + xact_rollback AS xacts, sessions FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
            return int(row["xacts"]), int(row["sessions"])

        return self.loop.run_until_complete(read())

    def snapshot(self, server_pids: list[int]) -> Snapshot:
        import resource

        # user nice system idle iowait irq softirq steal
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / CLOCK_TICKS
        interrupts = (ticks[5] + ticks[6]) / CLOCK_TICKS  # loopback TCP is mostly softirq time
        steal = ticks[7] / CLOCK_TICKS
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        xacts, sessions = self.pg_counters()
        pg_pids = postgres_pids()
        return Snapshot(
            at=time.monotonic(),
            busy=busy,
            interrupts=interrupts,
            steal=steal,
            server=sum(process_cpu(p) for p in server_pids),
            # Alive PostgreSQL processes, plus what exited backends used (the postmaster reaps
            # them): pool churn closes backends in the middle of a run.
            postgres={pid: process_cpu(pid) for pid in pg_pids},
            pg_reaped=sum(process_cpu(pid, reaped=True) for pid in pg_pids),
            wrk=children.ru_utime + children.ru_stime,
            pg_xacts=xacts,
            pg_sessions=sessions,
        )

    @staticmethod
    def usage(before: Snapshot, after: Snapshot, requests: int) -> dict[str, float]:
        per = max(requests, 1)
        wall = after.at - before.at
        postgres = sum(cpu - before.postgres.get(pid, 0.0) for pid, cpu in after.postgres.items())
        # Backends that exited during the run: what they used before `before` was counted there
        # and is now in the postmaster's reaped total, so subtract it.
        gone = sum(cpu for pid, cpu in before.postgres.items() if pid not in after.postgres)
        postgres += after.pg_reaped - before.pg_reaped - gone
        server = after.server - before.server
        wrk = after.wrk - before.wrk
        busy = after.busy - before.busy
        interrupts = after.interrupts - before.interrupts
        return {
            "server_us": 1e6 * server / per,
            "postgres_us": 1e6 * postgres / per,
            "wrk_us": 1e6 * wrk / per,
            "busy_cores": busy / wall,
            # Whatever else ran meanwhile (this script included): other people's work is noise.
            "irq_cores": interrupts / wall,
            "steal_cores": (after.steal - before.steal) / wall,
            "other_cores": max(0.0, busy - interrupts - server - postgres - wrk) / wall,
            "xacts": (after.pg_xacts - before.pg_xacts - 1) / per,  # -1: our own stats query
            "connects": after.pg_sessions - before.pg_sessions,
        }

    def users_file(self, count: int, seconds: int) -> Path:
        """`count` users with freshly minted access tokens, signed exactly as the app signs them."""
        from app.accounts.tokens import issue_access_token

        # Tokens must outlive the run; the lifetime is only a claim, the server checks `exp`.
        minutes = max(self.settings.access_token_minutes, math.ceil(seconds / 60) + 5)
        settings = self.settings.model_copy(update={"access_token_minutes": minutes})
        path = RESULTS / "users.txt"
        seeded = self.seeded
        with path.open("w") as out:
            for i in range(count):
                token, _ = issue_access_token(
                    user_id=seeded.user_ids[i], session_id=seeded.session_ids[i], settings=settings
                )
                out.write(f"{seeded.user_ids[i]} {token} {seeded.task_ids[i]} {seeded.emails[i]}\n")
        return path

    def wrk_once(self, base: str, mode: str, connections: int, seconds: int) -> dict[str, Any]:
        threads = max(1, min(WRK_THREADS, connections))
        users = self.users_file(connections, seconds + 60)
        env = os.environ | {
            "BENCH_MODE": mode,
            "BENCH_USERS": str(users),
            "BENCH_THREADS": str(threads),
            "BENCH_PASSWORD": PASSWORD,
        }
        command = [
            self.wrk,
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA),
            base,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
        for line in done.stdout.splitlines():
            if line.startswith("BENCH_RESULT "):
                return dict(json.loads(line.removeprefix("BENCH_RESULT ")))
        fail(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
        raise AssertionError

    def run(
        self,
        name: str,
        server: Server,
        mode: str,
        connections: int,
        seconds: int,
        *,
        warmup: int = WARMUP,
        sample_rss: bool = False,
    ) -> Result:
        say(
            f"  running {name}: {connections} connection(s), {seconds} s"
            + (f" after {warmup} s warm-up" if warmup else "")
            + " ..."
        )
        base = server.base
        if warmup:
            self.wrk_once(base, mode, connections, warmup)
        server_pids = server.workers()
        sample_pids = server_pids if sample_rss else None
        samples: list[tuple[float, dict[int, int]]] = []
        stop = threading.Event()

        def sample() -> None:
            started = time.monotonic()
            while True:
                samples.append(
                    (
                        time.monotonic() - started,
                        {pid: memory_kb(pid).get("VmRSS", 0) for pid in sample_pids or []},
                    )
                )
                if stop.wait(5):
                    break

        sampler = threading.Thread(target=sample, daemon=True) if sample_pids else None
        if sampler:
            sampler.start()
        spread: list[int] = []
        timer = threading.Timer(seconds / 2, lambda: spread.extend(worker_connections(server)))
        before = self.snapshot(server_pids)
        timer.start()
        raw = self.wrk_once(base, mode, connections, seconds)
        after = self.snapshot(server_pids)
        timer.join()
        if sampler:
            stop.set()
            sampler.join()
        result = Result(
            name=name,
            connections=connections,
            requests=raw["requests"],
            seconds=raw["duration_us"] / 1e6,
            errors=raw["errors"],
            latency_us=raw["latency_us"],
            statuses={int(k): v for k, v in raw["statuses"].items()},
            missing_retry_after=raw["503_without_retry_after"],
            samples=samples,
            usage=self.usage(before, after, raw["requests"]),
            spread=spread,
        )
        usage = result.usage
        if usage["other_cores"] > 0.2 or usage["steal_cores"] > 0.1:
            say(
                f"    warning: other processes kept {usage['other_cores']:.2f} of {os.cpu_count()} cores "
                f"busy (hypervisor steal {usage['steal_cores']:.2f}) during this run: its numbers are noisy"
            )
        return result


def print_usage(results: list[Result]) -> None:
    say(
        f"{'scenario':<38}{'app CPU':>9}{'PG CPU':>9}{'wrk CPU':>9}{'busy':>7}{'irq':>7}{'other':>7}"
        f"{'PG xact':>9}{'new PG':>8}  conns per worker"
    )
    say(
        f"{'':<38}{'us/req':>9}{'us/req':>9}{'us/req':>9}{'cores':>7}{'cores':>7}{'cores':>7}"
        f"{'per req':>9}{'conns':>8}  (mid-run)"
    )
    for r in results:
        u = r.usage
        say(
            f"{r.name:<38}{u['server_us']:>9.0f}{u['postgres_us']:>9.0f}{u['wrk_us']:>9.0f}"
            f"{u['busy_cores']:>7.2f}{u['irq_cores']:>7.2f}{u['other_cores']:>7.2f}{u['xacts']:>9.2f}"
            f"{u['connects']:>8.0f}  {'/'.join(map(str, r.spread))}"
        )


def print_table(results: list[Result]) -> None:
    say(
        f"{'scenario':<38}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'sock err':>9}{'non-2xx':>9}  statuses"
    )
    for r in results:
        statuses = " ".join(f"{s}:{c}" for s, c in sorted(r.statuses.items()))
        say(
            f"{r.name:<38}{r.connections:>6}{r.rps:>9.1f}{r.ms('p50'):>9.1f}{r.ms('p95'):>9.1f}"
            f"{r.ms('p99'):>9.1f}{r.ms('max'):>9.1f}{r.socket_errors:>9}{r.non_2xx:>9}  {statuses}"
        )


# --- profile (optional, BENCH_PROFILE=1) ----------------------------------------------------------


def profile_list(load: Load, server: Server) -> None:
    pyspy = os.environ.get("BENCH_PYSPY") or shutil.which("py-spy")
    if not pyspy:
        say(
            "BENCH_PROFILE is set but py-spy is not on PATH (or in BENCH_PYSPY): skipped. "
            "Install it in a throwaway venv: python3 -m venv /tmp/prof && /tmp/prof/bin/pip install py-spy"
        )
        return
    worker = server.workers()[0]
    out = RESULTS / "profile-list.txt"
    say(
        f"== profile: py-spy on worker {worker} during {DURATION} s of list load "
        f"(raw stacks in {out.relative_to(ROOT)})"
    )
    spy = subprocess.Popen(
        [
            pyspy,
            "record",
            "--pid",
            str(worker),
            "--duration",
            str(DURATION),
            "--rate",
            "200",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1)
    load.run("list (profiled, not scored)", server, "list", CONNECTIONS, DURATION, warmup=0)
    _, err = spy.communicate(timeout=60)
    if spy.returncode != 0 or not out.exists():
        say(f"py-spy failed: {err.decode(errors='replace').strip()[-500:]}")
        return
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [re.sub(r":\d+\)$", ")", f.strip()) for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.startswith("process ")] or frames  # drop "process N:"
        if frames:
            self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        say("py-spy recorded no samples")
        return
    say(f"top 15 by self time ({total} samples while busy):")
    for frame, count in self_time.most_common(15):
        say(f"  {100 * count / total:5.1f}%  {frame}")
    say("top 25 by inclusive time:")
    for frame, count in inclusive.most_common(25):
        say(f"  {100 * count / total:5.1f}%  {frame}")


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    started = time.monotonic()
    unknown = ONLY - set(SCENARIOS)
    if unknown:
        fail(f"BENCH_ONLY names unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    say(f"# Todo API benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    wrk = ensure_wrk()
    wrk_version = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
    say(f"host: {os.cpu_count()} CPU(s), {platform_memory()}; {' '.join(wrk_version)}; python {sys.version.split()[0]}")

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
    os.chdir(BACKEND)
    sys.path.insert(0, str(BACKEND))
    from app.accounts.passwords import PasswordHasher
    from app.core.config import load_settings
    from app.tasks.queries import search_text

    settings = load_settings()
    say(
        f"database: {DATABASE_URL} (recreated); WORKERS={WORKERS}; BCRYPT_ROUNDS={settings.bcrypt_rounds}; "
        f"pool {settings.db_pool_size}+{settings.db_max_overflow} per worker, timeout {settings.db_pool_timeout} s; "
        f"LOG_LEVEL={settings.log_level}"
    )
    say(
        f"durations: {DURATION} s per scenario after {WARMUP} s warm-up, soak {SOAK} s "
        f"(BENCH_DURATION, BENCH_WARMUP, BENCH_SOAK)"
    )
    say()

    say(f"== seeding {USERS} users x {TASKS_PER_USER} tasks")
    t0 = time.monotonic()
    asyncio.run(recreate_database(DATABASE_URL))
    migrate = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=BACKEND,
        env=server_env,
        capture_output=True,
        text=True,
    )
    if migrate.returncode != 0:
        fail(f"`python -m app migrate` failed:\n{migrate.stdout}\n{migrate.stderr}")
    # One bcrypt hash made by the app's own hasher (HMAC-SHA256 prehash, base64, bcrypt at the
    # configured cost), shared by every seeded user.
    password_hash = PasswordHasher(settings.bcrypt_rounds, concurrency=1)._hash(PASSWORD)
    seeded = asyncio.run(seed(DATABASE_URL, password_hash, search_text))
    say(f"seeded in {time.monotonic() - t0:.1f} s (COPY, one precomputed hash, one session per user, VACUUM ANALYZE)")
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
            scenario("reference", "reference list (bench/reference_app)", ref, "list", CONNECTIONS)
            ref_memory = {pid: memory_kb(pid) for pid in ref.workers()}
            ref.stop()
            ref = None
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
    say(f"total time {time.monotonic() - started:.0f} s; this output: bench/results/latest.txt")


def start_reference(settings: Any) -> Server:
    port = free_port()
    env = os.environ | {
        "REF_DATABASE_URL": "postgresql+asyncpg://" + asyncpg_dsn(DATABASE_URL).split("://", 1)[1],
        "REF_JWT_SECRET": settings.jwt_secret,
        "REF_PORT": str(port),
        "WORKERS": str(WORKERS),
        "REF_POOL_SIZE": str(settings.db_pool_size),
        "REF_MAX_OVERFLOW": str(settings.db_max_overflow),
        "REF_POOL_TIMEOUT": str(settings.db_pool_timeout),
    }
    return start_server("reference", [sys.executable, str(BENCH / "reference_app.py")], BENCH, env, port)


def report(
    results: dict[str, Result],
    settings: Any,
    app: Server,
    app_memory: dict[int, dict[str, int]],
    ref_memory: dict[int, dict[str, int]],
    soak_before: dict[int, dict[str, int]],
    plans_ok: bool,
) -> None:
    ordered = list(results.values())
    say()
    say("== results (latency in ms; sock err = wrk connect/read/write errors + 30 s timeouts)")
    print_table(ordered)
    if "create_delete" in results:
        create = results["create_delete"]
        say(f"create+delete: {create.rps / 2:.1f} create+delete pairs/s ({create.rps:.1f} requests/s)")
    say()
    say(
        "where the CPU went: CPU time per request of the app's workers, of all PostgreSQL processes "
        "and of wrk; cores busy machine-wide, of which in interrupts (loopback TCP) and used by "
        "anything else (other people's work: noise); PostgreSQL transactions per request; "
        "connections PostgreSQL accepted during the run"
    )
    print_usage(ordered)
    say()

    ratios: dict[str, float] = {}
    reference = results.get("reference")
    if reference and reference.usage.get("connects", 0) > 10:
        say(
            f"note: the reference opened {reference.usage['connects']:.0f} PostgreSQL connections during its "
            "run: with these pool settings (DB_POOL_SIZE + DB_MAX_OVERFLOW) overflow connections are closed "
            "and reopened under load (churn), which costs the faster reference more than the app, so the "
            "ratios below flatter the app. Compare with DB_MAX_OVERFLOW=0 and DB_POOL_SIZE=20."
        )
    if reference and reference.rps:
        ref_cpu = reference.usage["server_us"] + reference.usage["postgres_us"]
        for key in ("list", "me"):
            if key in results:
                r = results[key]
                ratios[key] = r.rps / reference.rps
                cpu = r.usage["server_us"] + r.usage["postgres_us"]
                say(
                    f"honest ratio: {r.name.split(' ', 1)[1]} = {100 * ratios[key]:.0f} % of the reference's "
                    f"throughput ({r.rps:.0f} vs {reference.rps:.0f} req/s); by CPU per request "
                    f"(app + PostgreSQL) {100 * ref_cpu / cpu:.0f} % ({cpu:.0f} vs {ref_cpu:.0f} us)"
                )
        say()

    say("== memory (kB; VmHWM = peak resident set over the whole run, VmRSS = now)")
    for pid, values in app_memory.items():
        role = "serve (supervisor)" if pid == app.process.pid else "app worker"
        say(f"  {role:<20} pid {pid:<8} VmHWM {values.get('VmHWM', 0):>8}  VmRSS {values.get('VmRSS', 0):>8}")
    for pid, values in ref_memory.items():
        say(f"  {'reference worker':<20} pid {pid:<8} VmHWM {values.get('VmHWM', 0):>8}  (at its end)")
    growth_flags = []
    soak = results.get("soak")
    if soak:
        say(
            "soak RSS samples under load (s: kB per worker): "
            + "; ".join(f"{t:.0f}: " + "/".join(str(v) for v in rss.values()) for t, rss in soak.samples)
        )
        # Start: the first sample once the soak has warmed up (10 s in); end: the last sample,
        # taken under load too, so both ends see the same steady state.
        warm = [rss for t, rss in soak.samples if t >= min(10, SOAK / 3)] or [rss for _, rss in soak.samples]
        for pid in soak_before:
            start_rss = warm[0].get(pid, 0) if warm else 0
            end_rss = warm[-1].get(pid, 0) if warm else 0
            grew = end_rss - start_rss
            flagged = grew > max(8 * 1024, 0.05 * start_rss)
            growth_flags.append(flagged)
            say(
                f"  soak worker {pid}: RSS {soak_before[pid].get('VmRSS', 0)} kB before the soak, "
                f"{start_rss} kB once warm, {end_rss} kB at the end: {grew:+d} kB"
                + ("  <-- grew beyond noise (8 MB / 5 %)" if flagged else " (noise)")
            )
    say()

    def verdict(ok: bool, text: str) -> None:
        say(f"{'PASS' if ok else 'FAIL'}  {text}")

    def noise(*keys: str) -> str:
        other = max(results[k].usage["other_cores"] for k in keys if k in results)
        return (
            (
                f" (NOISY: up to {other:.2f} cores of foreign load during these runs; "
                "trust the CPU-per-request ratio above)"
            )
            if other > 0.2
            else ""
        )

    say("== targets")
    at_100 = [r for k, r in results.items() if r.connections == CONNECTIONS and k != "reference"]
    if at_100:
        errors_100 = sum(r.socket_errors + r.non_2xx for r in at_100)
        verdict(
            errors_100 == 0,
            f"zero errors at {CONNECTIONS} connections: {errors_100} socket errors + "
            f"non-2xx over {', '.join(r.name.split()[0] for r in at_100)}",
        )
    if "list" in results:
        listing = results["list"]
        verdict(
            listing.ms("p99") < 250,
            f"task list p99 < 250 ms: {listing.ms('p99'):.1f} ms" + noise("list"),
        )
    if "list" in ratios:
        verdict(
            ratios["list"] >= 0.60,
            f"list throughput >= 60 % of the reference: {100 * ratios['list']:.0f} %" + noise("list", "reference"),
        )
    if "login:1" in results:
        login1 = results["login:1"]
        verdict(
            login1.ms("p50") < 200,
            f"one login (concurrency 1) p50 < 200 ms: {login1.ms('p50'):.1f} ms",
        )
    if "me" in ratios:
        verdict(
            ratios["me"] >= 0.80,
            f"/api/auth/me >= 80 % of the reference's throughput: {100 * ratios['me']:.0f} %"
            + noise("me", "reference"),
        )
    if "cliff" in results:
        cliff = results["cliff"]
        server_errors = sum(c for s, c in cliff.statuses.items() if s >= 500 and s != 503)
        cliff_ok = (
            server_errors == 0
            and cliff.socket_errors == 0
            and cliff.missing_retry_after == 0
            and cliff.ms("max") < settings.db_pool_timeout * 1000
            and all(s in (200, 503) for s in cliff.statuses)
        )
        verdict(
            cliff_ok,
            f"no cliff at {CLIFF_CONNECTIONS} connections: max latency {cliff.ms('max'):.0f} ms "
            f"(pool timeout {settings.db_pool_timeout * 1000:.0f} ms), statuses "
            f"{dict(sorted(cliff.statuses.items()))}, {cliff.socket_errors} socket errors, "
            f"{cliff.missing_retry_after} 503s without Retry-After",
        )
    if soak:
        verdict(not any(growth_flags), f"soak {SOAK} s: worker RSS steady (growth within 8 MB / 5 %)")
    verdict(plans_ok, "query plans use indexes (no Seq Scan on tasks)")
    say()


def platform_memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) // 1024} MiB RAM"
    except OSError:
        pass
    return "unknown RAM"


if __name__ == "__main__":
    main()
