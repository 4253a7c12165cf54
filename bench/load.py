"""Load: drive a server with wrk (closed loop, scenario.lua) and measure what each run cost, in
CPU per request of the app, PostgreSQL and wrk, and in PostgreSQL transactions and connections."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from common import DATABASE_URL, LUA, PASSWORD, RESULTS, WARMUP, WRK_THREADS, fail, say
from seed import Seeded, asyncpg_dsn
from server import Server, memory_kb, worker_connections


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


class Alongside(Protocol):
    """Something that runs beside a measured wrk run (the SQLite scenario's writer)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Load:
    def __init__(self, wrk: str, settings: Any, seeded: Seeded, *, postgres: bool = True) -> None:
        self.wrk = wrk
        self.settings = settings
        self.seeded = seeded
        self.postgres = postgres  # False: the server runs on SQLite, PostgreSQL is not measured
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
        xacts, sessions = self.pg_counters() if self.postgres else (0, 0)
        pg_pids = postgres_pids() if self.postgres else []
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

    def token(self, index: int, seconds: int) -> str:
        """A fresh access token of seeded user `index`, signed exactly as the app signs them,
        valid for at least `seconds`."""
        from app.accounts.tokens import issue_access_token

        # Tokens must outlive the run; the lifetime is only a claim, the server checks `exp`.
        minutes = max(self.settings.access_token_minutes, math.ceil(seconds / 60) + 5)
        settings = self.settings.model_copy(update={"access_token_minutes": minutes})
        token, _ = issue_access_token(
            user_id=self.seeded.user_ids[index], session_id=self.seeded.session_ids[index], settings=settings
        )
        return token

    def users_file(self, count: int, seconds: int) -> Path:
        """`count` users with freshly minted access tokens (see `token`)."""
        path = RESULTS / "users.txt"
        seeded = self.seeded
        with path.open("w") as out:
            for i in range(count):
                token = self.token(i, seconds)
                out.write(f"{seeded.user_ids[i]} {token} {seeded.task_ids[i]} {seeded.emails[i]}\n")
        return path

    def wrk_once(self, base: str, mode: str, connections: int, seconds: int, timeout: int = 30) -> dict[str, Any]:
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
            f"{timeout}s",
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
        timeout: int = 30,
        alongside: Alongside | None = None,
    ) -> Result:
        say(
            f"  running {name}: {connections} connection(s), {seconds} s"
            + (f" after {warmup} s warm-up" if warmup else "")
            + " ..."
        )
        base = server.base
        if warmup:
            self.wrk_once(base, mode, connections, warmup, timeout)
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
        if alongside:
            alongside.start()
        before = self.snapshot(server_pids)
        timer.start()
        try:
            raw = self.wrk_once(base, mode, connections, seconds, timeout)
        finally:
            if alongside:
                alongside.stop()
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
