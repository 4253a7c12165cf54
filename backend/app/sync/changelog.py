"""The change log: every write to a user's tasks, numbered by a per-user counter.

How a write records itself (every task write, whatever its entry point):

1. Lock the user's row first (`lock_changes`, or the tasks domain's `lock_owner`: `SELECT ...
   FROM users ... FOR NO KEY UPDATE`). Lock order is always user, then task rows, so two
   writes of one user never deadlock. (On SQLite every write transaction is `BEGIN IMMEDIATE`:
   writes are serialised database-wide already.)
2. Change the task rows.
3. `record_change(...)`: `UPDATE users SET change_seq = change_seq + n ... RETURNING` hands out
   the next numbers, and `task_changes(user_id, seq, task_id, kind, at)` gets one entry per
   task changed, in the writing transaction. The same call queues the user's webhook
   deliveries for the change (`app.integrations.outbox`): where a change is recorded for a
   user, that user's endpoints hear of it, in the same transaction.

Why a cursor "everything after seq N" can never skip a change
-------------------------------------------------------------
The classic trap is a number (a global sequence, a timestamp) taken *before* commit: writer A
takes 7, writer B takes 8 and commits first, a reader sees 8 and moves its cursor past 7; then
A commits 7 behind the reader's back, and the reader never sees it.

Here the number is taken under the user's row lock (the bump is an UPDATE of that row), which
is held until commit or rollback. Writer B's bump waits for writer A's lock, so B cannot take 8
until A has committed 7 (or rolled back, which also undoes its bump, so 7 is handed out again);
PostgreSQL then re-reads the row, so B gets 8, never a second 7. So for one user, the commit of
the transaction holding seq n happens before seq n+1 is even assigned. Any snapshot a reader
takes therefore holds a *prefix* of that user's log: if it sees seq n+1, it sees every seq <= n.
A cursor is always the largest seq a reader saw (or the counter it read), so every change after
it is either visible to the next read or not yet assigned. Numbers are contiguous: nothing is
assigned that is not recorded in the same statement pair.

Readers never lock. A full sync reads the counter *before* it scans the tasks: every change
that scan could miss commits after the counter was read, so it has a larger seq and the next
delta returns it (a change the scan already saw may come again; applying it twice is harmless).

Pruning deletes entries older than 30 days and raises `users.change_floor` to the largest seq
it deleted, in one transaction. A cursor below the floor may have missed pruned entries and is
answered 410 `cursor_expired`; readers read the entries first and the floor second, so a prune
that commits between the two reads is always noticed (a delta sync reads both, and the tasks,
in one statement: one snapshot, where a prune is seen whole or not at all).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import User
from app.core.models import utcnow
from app.integrations.events import EventType
from app.integrations.outbox import enqueue_task_events
from app.sync.models import TaskChange
from app.sync.news import note_news

ChangeKind = Literal["created", "updated", "deleted", "reminder"]
# What an entry is about: a task, or (from v3) a list (`task_id` then holds the list's id).
Entity = Literal["task", "list"]

RETENTION = timedelta(days=30)
# The webhook event of each kind of change, unless the write names a finer one.
WEBHOOK_EVENTS: dict[ChangeKind, EventType] = {
    "created": "task.created",
    "updated": "task.updated",
    "deleted": "task.deleted",
    "reminder": "reminder",
}

_LOCK_COUNTER = (
    select(User.change_seq).where(User.id == bindparam("user_id")).with_for_update(key_share=True)
)


async def lock_changes(*, connection: AsyncConnection, user_id: uuid.UUID) -> None:
    """Take the user's change-log lock: the first step of a write, before any task row."""
    await connection.execute(_LOCK_COUNTER, {"user_id": user_id})


async def record_change(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    kind: ChangeKind,
    event: EventType | None = None,
) -> int:
    """Record one change to one of the user's tasks, in the writing transaction; returns its
    seq (the cursor just after it). `event`: the webhook event, when finer than `kind`'s."""
    return await record_changes(
        connection=connection, user_id=user_id, task_ids=[task_id], kind=kind, event=event
    )


async def record_changes(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    task_ids: Sequence[uuid.UUID],
    kind: ChangeKind,
    entity: Entity = "task",
    event: EventType | None = None,
    webhook: bool = True,
) -> int:
    """Record the same kind of change to several tasks (a bulk write), in order, and queue
    the user's webhook deliveries of a task change (`event`, or the one of `kind`; none when
    `webhook` is false: a step of a larger write that announces itself). A list's own change
    queues nothing here: its `list.*` event carries the list as its member sees it, queued by
    the lists domain (`app.lists.queries.record_list_change`). The counter's bump takes the
    user's lock if the write did not take it first (`lock_changes`)."""
    if not task_ids:
        raise ValueError("no changes to record")
    bump = (
        update(User)
        .where(User.id == user_id)
        .values(change_seq=User.change_seq + len(task_ids))
        .returning(User.change_seq)
    )
    last = (await connection.execute(bump)).scalar_one()
    first = last - len(task_ids) + 1
    at = utcnow()
    rows = [
        {
            "user_id": user_id,
            "seq": first + n,
            "task_id": task_id,
            "kind": kind,
            "entity": entity,
            "at": at,
        }
        for n, task_id in enumerate(task_ids)
    ]
    await connection.execute(insert(TaskChange), rows)
    if entity == "task" and webhook:
        await enqueue_task_events(
            connection=connection,
            user_id=user_id,
            task_ids=task_ids,
            event=event or WEBHOOK_EVENTS[kind],
        )
    note_news(user_id)
    return last


# --- reading ---------------------------------------------------------------------------------


async def record_for_members(
    *,
    connection: AsyncConnection,
    member_ids: Sequence[uuid.UUID],
    ids: Sequence[uuid.UUID],
    kind: ChangeKind,
    entity: Entity = "task",
    event: EventType | None = None,
    webhook: bool = True,
) -> None:
    """Record the same changes in the log of every member of a list, the members in a fixed
    order (by id) so that two writes to one list never lock users in opposite orders. Each
    member's webhooks hear of a task change as their log does (`record_changes`)."""
    for user_id in sorted(set(member_ids)):
        await record_changes(
            connection=connection,
            user_id=user_id,
            task_ids=ids,
            kind=kind,
            entity=entity,
            event=event,
            webhook=webhook,
        )


@dataclass(frozen=True)
class Change:
    seq: int
    task_id: uuid.UUID
    kind: ChangeKind
    entity: Entity = "task"


@dataclass(frozen=True)
class CounterState:
    seq: int  # the last seq handed out (committed)
    floor: int  # every seq up to this one may have been pruned


_CHANGES_AFTER = (
    select(TaskChange.seq, TaskChange.task_id, TaskChange.kind, TaskChange.entity)
    .where(TaskChange.user_id == bindparam("user_id"), TaskChange.seq > bindparam("after"))
    .order_by(TaskChange.seq)
    .limit(bindparam("limit"))
)
_COUNTER = select(User.change_seq, User.change_floor).where(User.id == bindparam("user_id"))


async def changes_after(
    *, connection: AsyncConnection, user_id: uuid.UUID, after: int, limit: int
) -> list[Change]:
    """Up to `limit` changes after seq `after`, in log order. Read the counter (`counter`)
    *after* this, to tell whether `after` was still covered by the log."""
    result = await connection.execute(
        _CHANGES_AFTER, {"user_id": user_id, "after": after, "limit": limit}
    )
    return [Change(row.seq, row.task_id, row.kind, row.entity) for row in result]


async def counter(*, connection: AsyncConnection, user_id: uuid.UUID) -> CounterState:
    row = (await connection.execute(_COUNTER, {"user_id": user_id})).one_or_none()
    if row is None:  # the user is gone: nothing to read
        return CounterState(0, 0)
    return CounterState(row.change_seq, row.change_floor)


async def counters(
    *, connection: AsyncConnection, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The counters of several users at once (the event hub's check for missed news)."""
    statement = select(User.id, User.change_seq).where(User.id.in_(user_ids))
    return {row.id: row.change_seq for row in await connection.execute(statement)}


# --- pruning ---------------------------------------------------------------------------------

PRUNE_BATCH = 1000


async def prune_changes(*, connection: AsyncConnection, batch: int = PRUNE_BATCH) -> int:
    """Delete up to `batch` entries older than RETENTION and raise their users' floors, in the
    caller's transaction. Returns how many were deleted (the job repeats while it is `batch`)."""
    oldest = (
        select(TaskChange.user_id, TaskChange.seq)
        .where(TaskChange.at < utcnow() - RETENTION)
        .order_by(TaskChange.at)
        .limit(batch)
    )
    rows = (await connection.execute(oldest)).all()
    if not rows:
        return 0
    floors: dict[uuid.UUID, int] = {}
    for user_id, seq in rows:
        floors[user_id] = max(seq, floors.get(user_id, 0))
    # Users in a fixed order: two instances pruning at once lock them in the same order.
    for user_id in sorted(floors):
        floor = floors[user_id]
        await connection.execute(
            update(User)
            .where(User.id == user_id)
            .values(
                change_floor=func.max(User.change_floor, floor)
                if connection.dialect.name == "sqlite"
                else func.greatest(User.change_floor, floor)
            )
        )
        await connection.execute(
            delete(TaskChange).where(TaskChange.user_id == user_id, TaskChange.seq <= floor)
        )
    return len(rows)
