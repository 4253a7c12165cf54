"""One task and the task writes. Keyword-only, and always scoped by the task's owner: another
user's task is simply not found.

Every task write goes through `lock_owner` first, then `lock_task` (or an insert), and changes
rows only through `insert_task_row`, `update_task_row` and `delete_task_row`: the places where
the change log hooks in (DESIGN.md, "Service layer")."""

import uuid
from datetime import datetime

from sqlalchemy import Integer, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import User
from app.accounts.sessions import SESSION_IS_LIVE, Caller, read_parameters, require_live_session
from app.core.statements import Statement, fetch_all
from app.integrations.events import EventType
from app.lists.models import ListMember
from app.lists.visibility import visible_tasks
from app.sync.changelog import ChangeKind, record_for_members
from app.tasks.errors import TaskNotFound
from app.tasks.listing import PUBLIC_COLUMNS, Record, search_text
from app.tasks.models import Task

# A task the caller (`owner_id`) may see: the visibility rule, and the id.
_OWNED_TASK = (visible_tasks(), Task.id == bindparam("task_id"))
# One task, by a caller without a session to check and by one with (`read_parameters`).
GET_TASK = {
    checks_session: Statement(
        select(*PUBLIC_COLUMNS).where(*_OWNED_TASK, *([SESSION_IS_LIVE] if checks_session else []))
    )
    for checks_session in (False, True)
}
_LOCK_TASK = select(*PUBLIC_COLUMNS, Task.recurrence_anchor).where(*_OWNED_TASK).with_for_update()


async def get_task(*, connection: AsyncConnection, caller: Caller, task_id: uuid.UUID) -> Record:
    """One of the caller's tasks, with the caller's session checked: one statement (two for a
    task that is not there)."""
    parameters = {**read_parameters(caller), "task_id": task_id}
    rows = await fetch_all(connection, GET_TASK[caller.session_id is not None], parameters)
    if not rows:
        await require_live_session(connection=connection, caller=caller)
        raise TaskNotFound()
    return rows[0]


# --- writes ------------------------------------------------------------------------------------


async def lock_owner(*, connection: AsyncConnection, owner_id: uuid.UUID) -> str:
    """The first step of every task write: lock the owner's row, which serialises the owner's
    writes (tags shared between tasks, the zone every floating due date depends on), and read
    the owner's time zone under that lock. Lock order: owner, then task rows."""
    statement = select(User.time_zone).where(User.id == owner_id).with_for_update(key_share=True)
    zone = (await connection.execute(statement)).scalar_one_or_none()
    if zone is None:  # the owner was deleted while the token was still valid
        raise TaskNotFound()
    return zone


async def lock_task(
    *, connection: AsyncConnection, owner_id: uuid.UUID, task_id: uuid.UUID
) -> Record:
    """A task the caller (`owner_id`) may see, locked until the transaction ends (public
    columns and the recurrence anchor), so that concurrent writes apply one after the other."""
    parameters = {"owner_id": owner_id, "task_id": task_id}
    row = (await connection.execute(_LOCK_TASK, parameters)).mappings().one_or_none()
    if row is None:
        raise TaskNotFound()
    return dict(row)


def _stored(task: Record) -> Record:
    """A task record as its row holds it: public columns, anchor and search text."""
    columns = {column.key for column in PUBLIC_COLUMNS} | {"recurrence_anchor"}
    values = {key: value for key, value in task.items() if key in columns}
    values["search_text"] = search_text(task["title"], task["description"], task["tags"])
    return values


_MEMBERS = select(ListMember.user_id).where(ListMember.list_id == bindparam("list_id"))


async def record_task_change(
    *,
    connection: AsyncConnection,
    list_id: uuid.UUID,
    task_ids: list[uuid.UUID],
    kind: ChangeKind,
    event: EventType | None = None,
    webhook: bool = True,
) -> None:
    """Sync hook: the change log of every member of the task's list (their events follow, and
    their webhook deliveries: `event`, or the one of `kind`)."""
    members = list(await connection.scalars(_MEMBERS, {"list_id": list_id}))
    await record_for_members(
        connection=connection,
        member_ids=members,
        ids=task_ids,
        kind=kind,
        event=event,
        webhook=webhook,
    )


async def insert_task_row(*, connection: AsyncConnection, task: Record) -> None:
    await connection.execute(insert(Task).values(_stored(task)))
    await record_task_change(
        connection=connection, list_id=task["list_id"], task_ids=[task["id"]], kind="created"
    )


async def update_task_row(
    *,
    connection: AsyncConnection,
    task: Record,
    previous_list_id: uuid.UUID | None = None,
    event: EventType | None = "task.updated",
) -> None:
    """Write a task (already locked). A task moved from another list is a deletion for the
    members of that list who cannot see the new one. `event`: the webhook event of this
    change (`task.completed`, `task.moved`, ...); None for a step of a larger write that
    announces itself (a PATCH that also moves the task: one event, not two)."""
    values = _stored(task)
    for key in ("id", "user_id", "created_at"):
        values.pop(key)
    await connection.execute(update(Task).where(Task.id == task["id"]).values(values))
    await record_task_change(
        connection=connection,
        list_id=task["list_id"],
        task_ids=[task["id"]],
        kind="updated",
        event=event,
        webhook=event is not None,
    )
    if previous_list_id is not None and previous_list_id != task["list_id"]:
        before = set(await connection.scalars(_MEMBERS, {"list_id": previous_list_id}))
        after = set(await connection.scalars(_MEMBERS, {"list_id": task["list_id"]}))
        await record_for_members(
            connection=connection,
            member_ids=sorted(before - after),
            ids=[task["id"]],
            kind="deleted",
        )


async def delete_task_row(
    *, connection: AsyncConnection, owner_id: uuid.UUID, task_id: uuid.UUID
) -> list[str] | None:
    """Delete a task the caller may see (its tag links go with it); its tags, or None when
    there was no such task. Its subtasks are deleted first (`delete_subtree`)."""
    statement = (
        delete(Task).where(visible_tasks(), Task.id == task_id).returning(Task.tags, Task.list_id)
    )
    row = (await connection.execute(statement, {"owner_id": owner_id})).one_or_none()
    if row is None:
        return None
    await record_task_change(
        connection=connection, list_id=row.list_id, task_ids=[task_id], kind="deleted"
    )
    return list(row.tags)


async def lock_floating_tasks(*, connection: AsyncConnection, owner_id: uuid.UUID) -> list[Record]:
    """The owner's dated tasks that follow the owner's zone (time_zone null), locked."""
    statement = (
        select(*PUBLIC_COLUMNS, Task.recurrence_anchor)
        .where(Task.user_id == owner_id, Task.time_zone.is_(None), Task.due_date.is_not(None))
        .order_by(Task.id)
        .with_for_update()
    )
    return [dict(row) for row in (await connection.execute(statement)).mappings()]


async def lock_tasks(
    *, connection: AsyncConnection, owner_id: uuid.UUID, task_ids: list[uuid.UUID]
) -> list[Record]:
    statement = (
        select(*PUBLIC_COLUMNS, Task.recurrence_anchor)
        .where(Task.user_id == owner_id, Task.id.in_(task_ids))
        .order_by(Task.id)
        .with_for_update()
    )
    return [dict(row) for row in (await connection.execute(statement)).mappings()]


# --- reminders -----------------------------------------------------------------------------------

# A reminder still to deliver: the predicate of ix_tasks_pending_reminders, spelled as it is.
# PostgreSQL and SQLite use a partial index only when a query's conditions imply its predicate,
# and to them `completed IS false` does not imply `NOT completed` (`completed = false` is
# rewritten to it): written that way, the delivery loop read the whole tasks table every
# second in every worker (a parallel scan of 1M tasks, ~0.2 s, twice a second with 2 workers).
PENDING_REMINDER = (
    Task.reminded_at.is_(None),
    Task.completed == False,  # noqa: E712 (as the index predicate says it)
)
# "Which reminders are due now": a range scan of ix_tasks_pending_reminders.
DUE_REMINDERS = (
    select(Task.id, Task.user_id, Task.remind_at)
    .where(Task.remind_at <= bindparam("now", type_=Task.remind_at.type), *PENDING_REMINDER)
    .order_by(Task.remind_at)
    .limit(bindparam("limit", type_=Integer))
)


async def due_reminders(*, connection: AsyncConnection, now: datetime, limit: int) -> list[Record]:
    """Open tasks whose reminder is due and not delivered, oldest first (every user's: for the
    delivery loop, which locks and delivers them)."""
    result = await connection.execute(DUE_REMINDERS, {"now": now, "limit": limit})
    return [dict(row) for row in result.mappings()]


async def lock_tasks_by_id(
    *, connection: AsyncConnection, task_ids: list[uuid.UUID]
) -> list[Record]:
    """Tasks by id, locked in id order (the caller has checked that they may be written)."""
    if not task_ids:
        return []
    statement = (
        select(*PUBLIC_COLUMNS, Task.recurrence_anchor)
        .where(Task.id.in_(task_ids))
        .order_by(Task.id)
        .with_for_update()
    )
    return [dict(row) for row in (await connection.execute(statement)).mappings()]


async def delete_list_tasks(
    *, connection: AsyncConnection, list_id: uuid.UUID
) -> dict[uuid.UUID, list[str]]:
    """Delete every task of a list (a tombstone each for every member); the tags they carried,
    by creator (for the tags no task carries any more)."""
    statement = (
        delete(Task).where(Task.list_id == list_id).returning(Task.id, Task.user_id, Task.tags)
    )
    rows = (await connection.execute(statement)).all()
    if rows:
        await record_task_change(
            connection=connection,
            list_id=list_id,
            task_ids=sorted(row.id for row in rows),
            kind="deleted",
        )
    tags: dict[uuid.UUID, list[str]] = {}
    for row in rows:
        tags.setdefault(row.user_id, []).extend(row.tags)
    return tags
