"""Prometheus metrics, summed over every worker process of the instance (`GET /metrics`).

`python -m app run|serve` makes a fresh directory per start and names it in
PROMETHEUS_MULTIPROC_DIR before any worker starts (`multiprocess_directory`): each worker then
keeps its values in memory-mapped files there, and a scrape, whichever worker answers it, adds
up the files of all of them (prometheus_client's multiprocess mode). Counters and histograms of
a worker that died stay in the sum, so totals never jump back; the gauges of dead workers are
dropped (`forget_dead_workers`, run at each worker's start and at each scrape). Without the
variable (the tests' in-process apps) the values live in this process's registry.

The HTTP metrics follow OpenTelemetry's semantic conventions (`http.server.request.duration`
with its advisory buckets, `http.server.active_requests`), named as OpenTelemetry's Prometheus
exporter names them. The label `http_route` is the route template (`/api/tasks/{task_id}`),
never the raw path: a path that no route matches is counted under UNMATCHED_ROUTE.

Domains import the counters below and increment them (`WEBHOOK_DELIVERIES.labels(outcome=...)`).
"""

import os
import re
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from app.core.metrics_directory import multiprocess_directory

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED_ROUTE = "unmatched"
# OpenTelemetry's semantic conventions: methods outside this set are reported as "_OTHER".
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)
# http.server.request.duration's advisory bucket boundaries, in seconds.
DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0
)  # fmt: skip
# API.md: a reminder goes out within 5 s of its `remind_at`; later is late.
REMINDER_LATE_SECONDS = 5.0

REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests.",
    ["http_request_method", "http_route", "http_response_status_code"],
    buckets=DURATION_BUCKETS,
)
ACTIVE_REQUESTS = Gauge(
    "http_server_active_requests",
    "Number of active HTTP server requests.",
    ["http_request_method"],
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "todo_db_pool_connections_in_use",
    "Database connections checked out of the workers' pools.",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "todo_db_pool_connections_max",
    "Database connections the workers' pools may hold (pool size plus overflow).",
    multiprocess_mode="livesum",
)
DB_POOL_WAITS = Counter(
    "todo_db_pool_waits",
    "Requests (and jobs) that found every database connection in use and waited for one.",
)
DB_POOL_TIMEOUTS = Counter(
    "todo_db_pool_timeouts",
    "Waits for a database connection that gave up (answered 503 database_unavailable).",
)
EVENT_STREAMS_OPEN = Gauge(
    "todo_event_streams_open",
    "Open live event streams (GET /api/events).",
    multiprocess_mode="livesum",
)
REMINDERS_DELIVERED = Counter("todo_reminders_delivered", "Reminders delivered.")
REMINDERS_LATE = Counter(
    "todo_reminders_late",
    f"Reminders delivered more than {REMINDER_LATE_SECONDS:g} s after their remind_at.",
)
WEBHOOK_DELIVERIES = Counter(
    "todo_webhook_deliveries",
    "Webhook delivery attempts by outcome (succeeded, failed, gone, timeout, refused, "
    "unreachable).",
    ["outcome"],
)
# From the request's start to the receiver's answer (or the failure), per attempt.
WEBHOOK_DELIVERY_DURATION = Histogram(
    "todo_webhook_delivery_duration_seconds",
    "Webhook delivery attempts: how long each took, whatever its outcome.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0),
)


class HttpMetrics:
    """The HTTP metrics of RequestContextMiddleware. The children of each label set are kept:
    `labels()` on every request would validate and look them up again."""

    def __init__(self) -> None:
        self._active: dict[str, Gauge] = {}
        self._durations: dict[tuple[str, str, int], Histogram] = {}

    @staticmethod
    def method(raw: str) -> str:
        return raw if raw in KNOWN_METHODS else "_OTHER"

    def started(self, method: str) -> None:
        gauge = self._active.get(method)
        if gauge is None:
            gauge = self._active[method] = ACTIVE_REQUESTS.labels(method)
        gauge.inc()

    def finished(self, method: str, route: str | None, status: int, seconds: float) -> None:
        self._active[method].dec()
        key = (method, route or UNMATCHED_ROUTE, status)
        histogram = self._durations.get(key)
        if histogram is None:
            histogram = self._durations[key] = REQUEST_DURATION.labels(*key[:2], str(status))
        histogram.observe(seconds)


def count_reminders(*, delivered: int, late: int) -> None:
    REMINDERS_DELIVERED.inc(delivered)
    if late:
        REMINDERS_LATE.inc(late)


class GaugeSampler:
    """The gauges a worker sets from its own state: sampled every second (a periodic job) and
    before each scrape that this worker answers."""

    def __init__(self, *, engine: AsyncEngine, stream_count: Callable[[], int]) -> None:
        self.pool = engine.sync_engine.pool
        self.stream_count = stream_count
        if isinstance(self.pool, QueuePool):
            DB_POOL_SIZE.set(self.pool.size() + self.pool._max_overflow)

    def sample(self) -> None:
        if isinstance(self.pool, QueuePool):
            DB_POOL_IN_USE.set(self.pool.checkedout())
        EVENT_STREAMS_OPEN.set(self.stream_count())

    async def run(self) -> None:  # a PeriodicJob's `run`
        self.sample()


# --- multiprocess mode ------------------------------------------------------------------------


_PID_IN_FILE_NAME = re.compile(r"_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers() -> None:
    """Drop the live gauges of worker processes that are gone (a worker that crashed and was
    replaced): without this, their last values would stay in `livesum` forever."""
    directory = multiprocess_directory()
    if directory is None:
        return
    pids = set()
    for path in directory.glob("gauge_live*.db"):
        match = _PID_IN_FILE_NAME.search(path.name)
        if match:
            pids.add(int(match.group(1)))
    for pid in pids:
        if pid != os.getpid() and not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def worker_stopped() -> None:
    """This worker is exiting: its live gauges leave the sums (its counters stay)."""
    directory = multiprocess_directory()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), str(directory))  # type: ignore[no-untyped-call]


def render() -> bytes:
    """The Prometheus text exposition of every worker of the instance (blocking file reads:
    run it in a thread)."""
    directory = multiprocess_directory()
    if directory is None:
        return generate_latest(REGISTRY)
    forget_dead_workers()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)
