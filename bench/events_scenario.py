"""The live-events scenario (issue 14): 1,000 open `GET /api/events` streams on the server
(one per seeded user, spread over its workers) while the list scenario runs, and a writer that
creates tasks for those users to time each event from write to delivery.

It reports the workers' memory per open stream, event latency p50/p99 (from the write's
acknowledgement, and from the request's start, to the event arriving on its stream), and the
list throughput with the streams open (compare with the plain list row of the same run).

Runs inside `make bench` (`BENCH_ONLY=events` alone, after seeding). The streams are raw asyncio
sockets in a thread of their own: httpx would cost the benchmark more CPU than the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.client import HTTPConnection
from typing import Any

from common import CONNECTIONS, DURATION, env_int, say
from load import Load, Result, process_cpu
from server import Server, memory_kb

STREAMS = env_int("BENCH_STREAMS", 1000)
WRITES_PER_SECOND = env_int("BENCH_EVENT_WRITES", 20)


@dataclass
class Fleet:
    """STREAMS event streams, each of another seeded user, read in a thread of their own."""

    base: str
    tokens: list[str]
    opened: int = 0
    failed: list[str] = field(default_factory=list)
    arrivals: dict[str, float] = field(default_factory=dict)  # task title -> arrival time
    comments: int = 0

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self._tasks: list[asyncio.Task[None]] = []
        self._writers: list[asyncio.StreamWriter] = []

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(120):
            raise RuntimeError("the streams did not open within 120 s")

    def stop(self) -> None:
        async def close() -> None:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for writer in self._writers:
                writer.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._open_all())
        self.ready.set()
        self.loop.run_forever()

    async def _open_all(self) -> None:
        host, port = self.base.removeprefix("http://").split(":")
        gate = asyncio.Semaphore(50)  # open them 50 at a time
        opened = [asyncio.Event() for _ in self.tokens]
        for token, event in zip(self.tokens, opened, strict=True):
            self._tasks.append(asyncio.create_task(self._stream(host, int(port), token, gate, event)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), 120)

    async def _stream(self, host: str, port: int, token: str, gate: asyncio.Semaphore, opened: asyncio.Event) -> None:
        try:
            async with gate:
                reader, writer = await asyncio.open_connection(host, port)
                self._writers.append(writer)
                writer.write(
                    f"GET /api/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                    "Accept: text/event-stream\r\n\r\n".encode()
                )
                status = await reader.readline()
                if b" 200 " not in status:
                    self.failed.append(status.decode(errors="replace").strip())
                    return
                while (await reader.readline()).strip():
                    pass  # headers
                self.opened += 1
        finally:
            opened.set()
        # The body is chunked; event lines are recognisable inside the chunks.
        while line := await reader.readline():
            if line.startswith(b"data: {"):
                arrived = time.monotonic()
                title = json.loads(line[6:]).get("title")
                if title:
                    self.arrivals.setdefault(title, arrived)
            elif line.startswith(b": "):
                self.comments += 1


@dataclass
class EventWriter:
    """Creates a task every 1/WRITES_PER_SECOND s for a user whose stream is open, and notes
    when the request started and when its 201 arrived."""

    base: str
    tokens: list[str]
    sent: dict[str, tuple[float, float]] = field(default_factory=dict)  # title -> (start, ack)
    errors: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _write(self) -> None:
        host, port = self.base.removeprefix("http://").split(":")
        connection = HTTPConnection(host, int(port), timeout=10)
        n = 0
        while not self._stop.wait(1 / WRITES_PER_SECOND):
            token = self.tokens[(n * 7919) % len(self.tokens)]
            title = f"event-bench-{uuid.uuid4().hex}"
            started = time.monotonic()
            try:
                connection.request(
                    "POST",
                    "/api/tasks",
                    body=json.dumps({"title": title}),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                )
                response = connection.getresponse()
                response.read()
                if response.status == 201:
                    self.sent[title] = (started, time.monotonic())
                else:
                    self.errors += 1
            except OSError:
                self.errors += 1
                connection.close()
                connection = HTTPConnection(host, int(port), timeout=10)
            n += 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def workers_rss_kb(app: Server) -> int:
    return sum(memory_kb(pid).get("VmRSS", 0) for pid in app.workers())


def run_events(load: Load, app: Server, results: dict[str, Result]) -> dict[str, Any]:
    """Open the streams, measure their memory, run the list load with them open and a writer
    beside it, and print the numbers."""
    seconds = DURATION + 60
    count = min(STREAMS, len(load.seeded.user_ids))
    tokens = [load.token(i, seconds + 120) for i in range(count)]
    say(f"  opening {count} event streams (one per user) ...")
    before = workers_rss_kb(app)
    fleet = Fleet(app.base, tokens)
    opened_at = time.monotonic()
    fleet.start()
    took = time.monotonic() - opened_at
    time.sleep(3)  # let the workers settle
    after = workers_rss_kb(app)
    cpu_before = sum(process_cpu(pid) for pid in app.workers())
    time.sleep(10)
    idle_cpu = (sum(process_cpu(pid) for pid in app.workers()) - cpu_before) / 10
    per_stream = (after - before) / max(fleet.opened, 1)
    say(
        f"  {fleet.opened} streams open in {took:.1f} s ({len(fleet.failed)} refused"
        + (f": {fleet.failed[:3]}" if fleet.failed else "")
        + f"); workers' RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB, {per_stream:.1f} KiB per stream; "
        f"with the streams open and idle the workers use {idle_cpu:.1%} of a core (heartbeats, checks)"
    )
    writer = EventWriter(app.base, tokens)
    try:
        results["list_streams"] = load.run(
            f"list with {fleet.opened} streams open", app, "list", CONNECTIONS, DURATION, alongside=writer
        )
        time.sleep(5)  # the events of the last writes
    finally:
        fleet.stop()
    from_ack = [fleet.arrivals[t] - ack for t, (_, ack) in writer.sent.items() if t in fleet.arrivals]
    from_start = [fleet.arrivals[t] - start for t, (start, _) in writer.sent.items() if t in fleet.arrivals]
    lost = len(writer.sent) - len(from_ack)
    summary = {
        "streams": fleet.opened,
        "kib_per_stream": per_stream,
        "idle_cores": idle_cpu,
        "events": len(from_ack),
        "lost": lost,
        "p50_ack_ms": 1000 * percentile(from_ack, 0.5),
        "p99_ack_ms": 1000 * percentile(from_ack, 0.99),
        "p50_start_ms": 1000 * percentile(from_start, 0.5),
        "p99_start_ms": 1000 * percentile(from_start, 0.99),
        "max_ack_ms": 1000 * max(from_ack, default=float("nan")),
        "mean_ack_ms": 1000 * statistics.fmean(from_ack) if from_ack else float("nan"),
    }
    broker = os.environ.get("EVENTS_BROKER_URL")
    say(f"  fan-out between the workers: {'Redis (EVENTS_BROKER_URL)' if broker else 'counter checks (no broker)'}")
    say(
        f"  events: {summary['events']} delivered of {len(writer.sent)} written ({lost} missing, "
        f"{writer.errors} write errors), heartbeats seen {fleet.comments}"
    )
    say(
        f"  event latency, write acknowledged -> delivered: p50 {summary['p50_ack_ms']:.1f} ms, "
        f"p99 {summary['p99_ack_ms']:.1f} ms, max {summary['max_ack_ms']:.1f} ms; "
        f"request start -> delivered: p50 {summary['p50_start_ms']:.1f} ms, p99 {summary['p99_start_ms']:.1f} ms"
    )
    plain, streamed = results.get("list"), results.get("list_streams")
    if plain and streamed and plain.rps:
        say(
            f"  list throughput: {plain.rps:.0f} req/s without streams, {streamed.rps:.0f} req/s with "
            f"{fleet.opened} streams open and {WRITES_PER_SECOND} writes/s ({streamed.rps / plain.rps:.0%})"
        )
    return summary
