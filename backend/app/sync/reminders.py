"""Reminder delivery: every worker of every instance runs `deliver_due_reminders` about once a
second (a periodic job); each due reminder is delivered exactly once across all of them.

A run reads the due reminders without locking (the partial index `ix_tasks_pending_reminders`
makes that one range scan), then per owner, in one short transaction, locks the owner's row
(the lock order of every task write: owner, then task rows; `SKIP LOCKED`, so workers split the
owners instead of queueing behind each other) and only then the tasks that are *still* due,
which a worker that got there first has already marked: each reminder is delivered once.
For each delivered reminder it sets `reminded_at`, moves `version` and `updated_at` (the ETag
changes), records a `reminder` change in the log (so an offline client sees it when it syncs or
reconnects), and announces the news once the transaction has committed. Reminders that came due
while the service was down are simply due: the first run after the start delivers them.
"""

import random
import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import User
from app.core.database import Database
from app.core.metrics import REMINDER_LATE_SECONDS, count_reminders
from app.core.models import updated_after, utcnow
from app.sync.changelog import record_changes
from app.sync.hub import EventHub
from app.sync.news import collecting_news
from app.tasks.models import Task
from app.tasks.queries import PENDING_REMINDER, due_reminders

BATCH = 500


def _still_due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (Task.remind_at <= now, *PENDING_REMINDER)


async def deliver_due_reminders(database: Database, hub: EventHub, *, batch: int = BATCH) -> int:
    """Deliver up to `batch` due reminders; returns how many this run delivered."""
    now = utcnow()
    async with database.admitted(), database.reader.connect() as connection:
        candidates = await due_reminders(connection=connection, now=now, limit=batch)
    by_owner: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for row in candidates:
        by_owner[row["user_id"]].append(row["id"])
    delivered = 0
    owners = list(by_owner)
    # Workers and instances start at different owners, so that they share the work.
    random.shuffle(owners)
    # One short transaction per owner: a user's writes wait for their own reminders only.
    for owner in owners:
        with collecting_news() as news:
            async with database.admitted(), database.engine.begin() as connection:
                done, late = await _deliver(connection, owner, by_owner[owner], now)
        count_reminders(delivered=done, late=late)  # committed
        delivered += done
        if news:
            hub.announce(set(news))
    return delivered


async def _deliver(
    connection: AsyncConnection, owner: uuid.UUID, task_ids: list[uuid.UUID], now: datetime
) -> tuple[int, int]:
    """(reminders delivered, of which late)."""
    # The owner first, as every write. SKIP LOCKED: an owner locked right now is being written
    # to, or served by another worker; this run moves on, and the next (a second later) retries.
    locked = (
        select(User.id).where(User.id == owner).with_for_update(key_share=True, skip_locked=True)
    )
    if (await connection.execute(locked)).first() is None:
        return 0, 0
    still_due = (
        select(Task.id, Task.version, Task.updated_at, Task.remind_at)
        .where(Task.user_id == owner, Task.id.in_(task_ids), *_still_due(now))
        .order_by(Task.id)
        .with_for_update()
    )
    rows = (await connection.execute(still_due)).all()
    if not rows:
        return 0, 0  # another worker or instance delivered them first
    statement = (
        update(Task)
        .where(Task.id == bindparam("task_id"))
        .values(
            reminded_at=now,
            version=bindparam("new_version"),
            updated_at=bindparam("new_updated_at"),
        )
    )
    await connection.execute(
        statement,
        [
            {
                "task_id": row.id,
                "new_version": row.version + 1,
                "new_updated_at": updated_after(row.updated_at),
            }
            for row in rows
        ],
    )
    await record_changes(
        connection=connection, user_id=owner, task_ids=[row.id for row in rows], kind="reminder"
    )
    late = sum(1 for row in rows if (now - row.remind_at).total_seconds() > REMINDER_LATE_SECONDS)
    return len(rows), late
