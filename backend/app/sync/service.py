"""Delta sync and the events of the live stream, both read from the change log."""

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, bindparam, literal, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import User
from app.accounts.sessions import SESSION_IS_LIVE
from app.core.statements import AnySelect, Statement, fetch_all
from app.lists import queries as lists
from app.lists.schemas import ListPublic
from app.lists.visibility import visible_tasks
from app.sync import changelog
from app.sync.changelog import Change
from app.sync.cursors import Cursor, decode_cursor, encode_cursor
from app.sync.errors import CursorExpired
from app.sync.models import TaskChange
from app.tasks.listing import PUBLIC_COLUMNS
from app.tasks.models import Task
from app.tasks.schemas import TaskPublic

Record = dict[str, Any]
PUBLIC_KEYS = tuple(column.key for column in PUBLIC_COLUMNS)


@dataclass(frozen=True)
class SyncResult:
    tasks: list[Record]
    deleted: list[uuid.UUID]
    cursor: str
    has_more: bool
    # The lists created or changed (or all of them, in a full sync) and those deleted or out of
    # reach; `changed_lists` are the ids whose entries a delta read, for `resolve_lists`.
    lists: list[Record] | None = None
    deleted_lists: list[uuid.UUID] | None = None
    changed_lists: tuple[uuid.UUID, ...] = ()


async def _tasks_by_id(
    connection: AsyncConnection, user_id: uuid.UUID, task_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Record]:
    """The tasks among `task_ids` the user may see (the visibility rule)."""
    if not task_ids:
        return {}
    statement = select(*PUBLIC_COLUMNS).where(visible_tasks(), Task.id.in_(task_ids))
    result = await connection.execute(statement, {"owner_id": user_id})
    return {row["id"]: dict(row) for row in result.mappings()}


async def resolve_lists(
    *, connection: AsyncConnection, user_id: uuid.UUID, result: SyncResult
) -> SyncResult:
    """Fill `lists`/`deleted_lists` from the list entries a delta read: a list the user is
    still a member of is sent whole, any other (deleted, or out of reach) as deleted."""
    visible = {
        found["id"]: found
        for found in await lists.list_lists(connection=connection, user_id=user_id, archived=None)
    }
    changed = list(dict.fromkeys(result.changed_lists))
    return SyncResult(
        result.tasks,
        result.deleted,
        result.cursor,
        result.has_more,
        [visible[list_id] for list_id in changed if list_id in visible],
        [list_id for list_id in changed if list_id not in visible],
    )


def _check_covered(seq: int, state: changelog.CounterState) -> None:
    """410 unless the log still holds every change after `seq` (and `seq` was handed out)."""
    if seq > state.seq or seq < state.floor:
        raise CursorExpired()


def _delta_statement(checks_session: bool) -> Statement:
    """A delta page in one statement, in one snapshot: the user's counter and floor (one row
    even with no changes), the next `limit` changes after `after`, each with its task's public
    columns (null once the task is deleted). With `checks_session`, no row at all unless the
    caller's session is live (`read_parameters`)."""
    changes = (
        select(TaskChange.seq, TaskChange.task_id, TaskChange.entity)
        .where(TaskChange.user_id == bindparam("owner_id"), TaskChange.seq > bindparam("after"))
        .order_by(TaskChange.seq)
        .limit(bindparam("limit", type_=Integer))
        .subquery("changes")
    )
    statement = (
        select(
            *PUBLIC_COLUMNS,
            changes.c.seq.label("change"),
            changes.c.task_id.label("changed_task"),
            changes.c.entity.label("changed_entity"),
            User.change_seq,
            User.change_floor,
        )
        .select_from(User)
        .outerjoin(changes, true())
        # The task, if it is one and the user may still see it (else: deleted for them).
        .outerjoin(
            Task,
            (Task.id == changes.c.task_id) & (changes.c.entity == "task") & visible_tasks(User.id),
        )
        .where(User.id == bindparam("owner_id"), *([SESSION_IS_LIVE] if checks_session else []))
        .order_by(changes.c.seq)
    )
    return Statement(statement)


DELTA_PAGE = {checks_session: _delta_statement(checks_session) for checks_session in (False, True)}
assert DELTA_PAGE[True].keys[: len(PUBLIC_KEYS)] == PUBLIC_KEYS, "the task's members come first"


def delta_from_rows(
    user_id: uuid.UUID,
    after: int,
    limit: int,
    rows: Sequence[Mapping[str, Any]],
    task_of: Callable[[Any], Record],
) -> SyncResult:
    """The delta page `DELTA_PAGE` read (asked for `limit` + 1 changes); 410 unless the log
    still covers `after`. `task_of` shapes a row's task (the route and the fast path shape
    them each their own way). No rows: the user is gone, and with them every change."""
    state = (
        changelog.CounterState(rows[0]["change_seq"], rows[0]["change_floor"])
        if rows
        else changelog.CounterState(0, 0)
    )
    _check_covered(after, state)
    changed = [row for row in rows if row["change"] is not None]
    has_more = len(changed) > limit
    changed = changed[:limit]
    tasks: list[Record] = []
    deleted: list[uuid.UUID] = []
    seen: set[uuid.UUID] = set()
    changed_lists: list[uuid.UUID] = []
    for row in changed:  # each task once, where it first changed
        if row["changed_entity"] == "list":
            changed_lists.append(row["changed_task"])
            continue
        task_id = row["changed_task"]
        if task_id in seen:
            continue
        seen.add(task_id)
        # Ids are never reused: a task that is not there any more was deleted.
        if row["id"] is None:
            deleted.append(task_id)
        else:
            tasks.append(task_of(row))
    cursor = encode_cursor(user_id, changed[-1]["change"] if changed else after)
    return SyncResult(tasks, deleted, cursor, has_more, [], [], tuple(changed_lists))


def _task_members(row: Mapping[str, Any]) -> Record:
    return {key: row[key] for key in PUBLIC_KEYS}


async def sync(
    *, connection: AsyncConnection, user_id: uuid.UUID, cursor: Cursor | None, limit: int
) -> SyncResult:
    """A page of a full sync or of the changes after `cursor` (the caller's session checked
    already)."""
    if cursor is None or cursor.after_task is not None:
        return await _full_sync_page(connection, user_id, cursor, limit)
    values = {"owner_id": user_id, "after": cursor.seq, "limit": limit + 1}
    rows = await fetch_all(connection, DELTA_PAGE[False], values)
    result = delta_from_rows(user_id, cursor.seq, limit, rows, _task_members)
    return await resolve_lists(connection=connection, user_id=user_id, result=result)


def full_sync_statement(user_id: uuid.UUID, after: uuid.UUID | None, limit: int) -> AnySelect:
    """Up to `limit` of the tasks the user may see after the id `after`, by id."""
    statement = select(*PUBLIC_COLUMNS).where(visible_tasks(literal(user_id, User.id.type)))
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
    # Every list comes with the first page (their changes after `start` follow as deltas).
    all_lists = (
        await lists.list_lists(connection=connection, user_id=user_id, archived=None)
        if cursor is None
        else []
    )
    state = await changelog.counter(connection=connection, user_id=user_id)
    _check_covered(start, state)
    if len(rows) > limit:
        rows = rows[:limit]
        cursor_text = encode_cursor(user_id, start, rows[-1]["id"])
        return SyncResult(rows, [], cursor_text, True, all_lists, [])
    # The scan is done; anything written since it started follows as a delta at once.
    return SyncResult(rows, [], encode_cursor(user_id, start), state.seq > start, all_lists, [])


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
    ids = list({c.task_id for c in changes if c.kind != "deleted" and c.entity == "task"})
    current = await _tasks_by_id(connection, user_id, ids)
    if any(change.entity == "list" for change in changes):
        visible = await lists.list_lists(connection=connection, user_id=user_id, archived=None)
        current.update({found["id"]: found for found in visible})
    events = [event for change in changes if (event := _event(user_id, change, current))]
    return EventBatch(events, changes[-1].seq, len(changes) == limit)


def _event(
    user_id: uuid.UUID, change: Change, current: dict[uuid.UUID, Record]
) -> TaskEvent | None:
    cursor = encode_cursor(user_id, change.seq)
    if change.entity == "list":
        found = current.get(change.task_id)
        if change.kind == "deleted" or found is None:
            data = json.dumps({"id": str(change.task_id)})
            return TaskEvent(cursor, change.seq, "list.deleted", data)
        name = "list.created" if change.kind == "created" else "list.updated"
        return TaskEvent(
            cursor, change.seq, name, ListPublic.model_validate(found).model_dump_json()
        )
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
