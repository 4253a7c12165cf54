"""Issue 17, part 5: scale-out. Two instances of one worker each, behind the load tool (wrk's
threads alternate between them: scenario.lua's BENCH_ADDRS), against one instance of two
workers, on the same database and the same list scenario. Nothing shared between instances (no
broker, no lock, no in-process cache that the other must miss) should make the pair slower."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from common import BACKEND, CONNECTIONS, DURATION, WARMUP, WRK_THREADS, say
from load import Load, Result
from report import print_table, print_usage
from server import Server, free_port, start_server, worker_connections


@dataclass
class Pair:
    """Two servers seen as one by Load.run: wrk is pointed at the first and its threads are sent
    to both; CPU and connections are counted over both."""

    first: Server
    second: Server
    name: str = "two instances"

    @property
    def base(self) -> str:
        return self.first.base

    @property
    def port(self) -> int:
        return self.first.port

    def workers(self) -> list[int]:
        return self.first.workers() + self.second.workers()


@contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_scale_out(load: Load, server_env: dict[str, str]) -> tuple[Result, Result]:
    """One instance of 2 workers, then two instances of 1 worker, each under the list scenario at
    CONNECTIONS connections (the same users, the same tokens)."""
    say("== scale-out: one instance of 2 workers vs two instances of 1 worker (wrk threads alternate)")
    if WRK_THREADS < 2:
        say("  note: BENCH_WRK_THREADS < 2 sends every request to the first instance")
    command = [sys.executable, "-m", "app", "serve"]
    port = free_port()
    env = server_env | {"WORKERS": "2", "PORT": str(port), "MIGRATE_ON_START": "false"}
    one = start_server("server-scale-one", command, BACKEND, env, port, workers=2)
    try:
        single = load.run("list, 1 instance x 2 workers", one, "list", CONNECTIONS, DURATION)
    finally:
        one.stop()
    ports = free_port(), free_port()
    instances: list[Server] = []
    try:
        for n, p in enumerate(ports):
            env = server_env | {"WORKERS": "1", "PORT": str(p), "MIGRATE_ON_START": "false"}
            instances.append(start_server(f"server-scale-{n}", command, BACKEND, env, p, workers=1))
        pair = Pair(instances[0], instances[1])
        addrs = ",".join(f"127.0.0.1:{p}" for p in ports)
        # Load.run counts the client connections of the first instance only: count both, mid-run.
        spread: list[int] = []
        timer = threading.Timer(
            WARMUP + DURATION / 2, lambda: spread.extend(sum(worker_connections(i)) for i in instances)
        )
        timer.start()
        with environment(BENCH_ADDRS=addrs):
            double = load.run("list, 2 instances x 1 worker", pair, "list", CONNECTIONS, DURATION)  # type: ignore[arg-type]
        timer.join()
        double.spread = spread
    finally:
        for instance in instances:
            instance.stop()
    print_table([single, double])
    print_usage([single, double])
    say(
        f"  two instances of 1 worker: {double.rps:.0f} req/s (p99 {double.ms('p99'):.1f} ms) vs one instance of "
        f"2 workers: {single.rps:.0f} req/s (p99 {single.ms('p99'):.1f} ms) = {100 * double.rps / single.rps:.0f} %"
    )
    return single, double
