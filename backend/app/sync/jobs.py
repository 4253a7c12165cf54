"""The sync domain's periodic work: reminder delivery every second, and upkeep (change-log
pruning, expired idempotency keys and tickets). Each job is bounded (a few batches with a
LIMIT, each its own short transaction) and safe to run on every worker of every instance at
once. `SyncJobs` runs them in each worker, started and stopped by the app's lifespan."""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import Database
from app.sync.changelog import prune_changes
from app.sync.hub import EventHub
from app.sync.idempotency import delete_expired_keys
from app.sync.reminders import deliver_due_reminders
from app.sync.tickets import delete_expired_tickets

BATCHES_PER_RUN = 10

Batch = Callable[..., Awaitable[int]]


async def _in_batches(
    database: Database, batch: Callable[[AsyncConnection], Awaitable[int]], size: int
) -> int:
    done = 0
    for _ in range(BATCHES_PER_RUN):
        async with database.admitted(), database.engine.begin() as connection:
            count = await batch(connection)
        done += count
        if count < size:
            break
    return done


async def prune_change_log(database: Database, size: int = 1000) -> int:
    """Forget change-log entries older than 30 days (their cursors become 410)."""
    return await _in_batches(
        database, lambda connection: prune_changes(connection=connection, batch=size), size
    )


async def expire_idempotency_keys(database: Database, size: int = 1000) -> int:
    return await _in_batches(
        database, lambda connection: delete_expired_keys(connection=connection, batch=size), size
    )


async def expire_event_tickets(database: Database, size: int = 1000) -> int:
    return await _in_batches(
        database, lambda connection: delete_expired_tickets(connection=connection, batch=size), size
    )


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds between the end of one run and the start of the next
    run: Callable[[], Awaitable[object]]


def sync_jobs(database: Database, hub: EventHub) -> list[Job]:
    return [
        # API.md: a reminder goes out within 5 s of `remind_at`.
        Job("deliver reminders", 1.0, partial(deliver_due_reminders, database, hub)),
        Job("prune the change log", 3600.0, partial(prune_change_log, database)),
        Job("expire idempotency keys", 600.0, partial(expire_idempotency_keys, database)),
        Job("expire event tickets", 600.0, partial(expire_event_tickets, database)),
    ]


logger = logging.getLogger(__name__)


class SyncJobs:
    """Runs the jobs in this worker until stopped; a failed run is logged and retried at the
    next period (the database may be restarting)."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._keep_running(job)) for job in self.jobs]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _keep_running(self, job: Job) -> None:
        while True:
            try:
                async with asyncio.timeout(60):
                    await job.run()
            except Exception as exc:
                logger.warning("job %r failed: %s", job.name, type(exc).__name__)
            await asyncio.sleep(job.every * random.uniform(0.9, 1.1))
