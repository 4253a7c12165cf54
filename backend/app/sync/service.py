"""Delta sync and the events of the live stream, both read from the change log."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.statements import AnySelect
from app.sync import changelog
from app.sync.changelog import Change
from app.sync.cursors import Cursor, decode_cursor, encode_cursor
from app.sync.errors import CursorExpired
from app.tasks.listing import PUBLIC_COLUMNS
from app.tasks.models import Task
from app.tasks.schemas import TaskPublic

Record = dict[str, Any]


@dataclass(frozen=True)
class SyncResult:
    tasks: list[Record]
    deleted: list[uuid.UUID]
    cursor: str
    has_more: bool


async def _tasks_by_id(
    connection: AsyncConnection, user_id: uuid.UUID, task_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Record]:
    if not task_ids:
        return {}
    statement = select(*PUBLIC_COLUMNS).where(Task.user_id == user_id, Task.id.in_(task_ids))
    return {row["id"]: dict(row) for row in (await connection.execute(statement)).mappings()}


def _check_covered(seq: int, state: changelog.CounterState) -> None:
    """410 unless the log still holds every change after `seq` (and `seq` was handed out)."""
    if seq > state.seq or seq < state.floor:
        raise CursorExpired()


async def sync(
    *, connection: AsyncConnection, user_id: uuid.UUID, cursor: Cursor | None, limit: int
) -> SyncResult:
    if cursor is None or cursor.after_task is not None:
        return await _full_sync_page(connection, user_id, cursor, limit)
    changes = await changelog.changes_after(
        connection=connection, user_id=user_id, after=cursor.seq, limit=limit + 1
    )
    # Read after the entries: a prune that committed in between has raised the floor.
    _check_covered(cursor.seq, await changelog.counter(connection=connection, user_id=user_id))
    has_more = len(changes) > limit
    changes = changes[:limit]
    task_ids = list(dict.fromkeys(change.task_id for change in changes))
    current = await _tasks_by_id(connection, user_id, task_ids)
    return SyncResult(
        tasks=[current[task_id] for task_id in task_ids if task_id in current],
        # Ids are never reused: a task that is not there any more was deleted.
        deleted=[task_id for task_id in task_ids if task_id not in current],
        cursor=encode_cursor(user_id, changes[-1].seq if changes else cursor.seq),
        has_more=has_more,
    )


def full_sync_statement(user_id: uuid.UUID, after: uuid.UUID | None, limit: int) -> AnySelect:
    """Up to `limit` of the user's tasks after the id `after`, by id (ix_tasks_user_id)."""
    statement = select(*PUBLIC_COLUMNS).where(Task.user_id == user_id)
    if after is not None:
        statement = statement.where(Task.id > after)
    return statement.order_by(Task.id).limit(limit)


async def _full_sync_page(
    connection: AsyncConnection, user_id: uuid.UUID, cursor: Cursor | None, limit: int
) -> SyncResult:
    """Every current task, by id. The counter is read before the first page is scanned, so
    whatever the scan misses has a later seq and comes with the deltas that follow."""
    if cursor is None:
        start = (await changelog.counter(connection=connection, user_id=user_id)).seq
        after = None
    else:
        start, after = cursor.seq, cursor.after_task
    statement = full_sync_statement(user_id, after, limit + 1)
    rows = [dict(row) for row in (await connection.execute(statement)).mappings()]
    state = await changelog.counter(connection=connection, user_id=user_id)
    _check_covered(start, state)
    if len(rows) > limit:
        rows = rows[:limit]
        return SyncResult(rows, [], encode_cursor(user_id, start, rows[-1]["id"]), True)
    # The scan is done; anything written since it started follows as a delta at once.
    return SyncResult(rows, [], encode_cursor(user_id, start), state.seq > start)


# --- live events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskEvent:
    id: str  # the cursor just after this change
    seq: int
    name: str  # task.created | task.updated | task.deleted | reminder
    data: str  # JSON: the task, or {"id"} of a deleted one


EVENT_NAMES = {"created": "task.created", "updated": "task.updated", "reminder": "reminder"}


@dataclass(frozen=True)
class EventBatch:
    events: list[TaskEvent]
    read_to: int  # the seq of the last change read
    full: bool  # `limit` changes were read: more may follow


async def events_after(
    *, connection: AsyncConnection, user_id: uuid.UUID, after: int, limit: int
) -> EventBatch:
    """One event per change after `after`, in log order, each with the task's current state.
    A change to a task deleted since gives no event of its own: its deletion follows."""
    changes = await changelog.changes_after(
        connection=connection, user_id=user_id, after=after, limit=limit
    )
    if not changes:
        return EventBatch([], after, False)
    ids = list({change.task_id for change in changes if change.kind != "deleted"})
    current = await _tasks_by_id(connection, user_id, ids)
    events = [event for change in changes if (event := _event(user_id, change, current))]
    return EventBatch(events, changes[-1].seq, len(changes) == limit)


def _event(
    user_id: uuid.UUID, change: Change, current: dict[uuid.UUID, Record]
) -> TaskEvent | None:
    cursor = encode_cursor(user_id, change.seq)
    if change.kind == "deleted":
        data = json.dumps({"id": str(change.task_id)})
        return TaskEvent(cursor, change.seq, "task.deleted", data)
    task = current.get(change.task_id)
    if task is None:
        return None
    data = TaskPublic.model_validate(task).model_dump_json()
    return TaskEvent(cursor, change.seq, EVENT_NAMES[change.kind], data)


async def resume_point(
    *, connection: AsyncConnection, user_id: uuid.UUID, last_event_id: str | None
) -> int:
    """Where a stream starts: after `Last-Event-ID` (410 unless the log still covers it), or
    at the current end of the log."""
    state = await changelog.counter(connection=connection, user_id=user_id)
    if last_event_id is None:
        return state.seq
    try:
        cursor = decode_cursor(user_id, last_event_id.strip())
    except ValueError:
        raise CursorExpired() from None
    if cursor.after_task is not None:
        raise CursorExpired()
    _check_covered(cursor.seq, state)
    return cursor.seq
