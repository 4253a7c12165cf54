"""The sync domain's periodic upkeep, for `app.core.background`: each job is bounded (a few
batches with a LIMIT, each its own short transaction) and safe to run on every worker of every
instance at once."""

from collections.abc import Awaitable, Callable
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.background import PeriodicJob
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


def sync_jobs(database: Database, events: EventHub) -> list[PeriodicJob]:
    """The sync domain's jobs for `app.core.background.BackgroundJobs`."""
    return [
        # API.md: a reminder goes out within 5 s of `remind_at`.
        PeriodicJob("deliver reminders", 1.0, partial(deliver_due_reminders, database, events)),
        PeriodicJob("prune the change log", 3600.0, partial(prune_change_log, database)),
        PeriodicJob("expire idempotency keys", 600.0, partial(expire_idempotency_keys, database)),
        PeriodicJob("expire event tickets", 600.0, partial(expire_event_tickets, database)),
    ]
