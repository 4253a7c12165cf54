"""Where a task sits: its list, its parent (at most 4 levels), its position among its siblings.
The checks of a placement run in the writing transaction, after the list rows are locked
(`lock_lists`): that lock serialises every structural write in a list, so two moves that are
each legal cannot together make a cycle or a fifth level."""

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.lists import positions
from app.lists import queries as lists
from app.lists.visibility import require_role, role_in
from app.tasks.errors import invalid_assignee, invalid_move, invalid_parent
from app.tasks.models import Task

Record = dict[str, Any]
MAX_DEPTH = 4

_PARENT = select(Task.parent_id, Task.list_id).where(Task.id == bindparam("task_id"))
_CHILDREN = select(Task.id).where(Task.parent_id.in_(bindparam("ids", expanding=True)))


async def lock_lists(*, connection: AsyncConnection, list_ids: Iterable[uuid.UUID]) -> None:
    """Lock list rows in a fixed order (by id)."""
    for list_id in sorted(set(list_ids)):
        await lists.lock_list(connection=connection, list_id=list_id)


async def depth(*, connection: AsyncConnection, task_id: uuid.UUID) -> int:
    """The task's level: 1 at the top level."""
    level, current = 1, task_id
    while level <= MAX_DEPTH + 1:
        row = (await connection.execute(_PARENT, {"task_id": current})).one_or_none()
        if row is None or row.parent_id is None:
            return level
        level, current = level + 1, row.parent_id
    return level


async def descendant_levels(
    *, connection: AsyncConnection, task_id: uuid.UUID
) -> list[list[uuid.UUID]]:
    """The task's descendants, level by level (children first)."""
    levels: list[list[uuid.UUID]] = []
    frontier = [task_id]
    while frontier and len(levels) <= MAX_DEPTH:
        frontier = list(await connection.scalars(_CHILDREN, {"ids": frontier}))
        if frontier:
            levels.append(frontier)
    return levels


async def descendants(*, connection: AsyncConnection, task_id: uuid.UUID) -> list[uuid.UUID]:
    levels = await descendant_levels(connection=connection, task_id=task_id)
    return [task for level in levels for task in level]


async def _sibling_keys(
    connection: AsyncConnection,
    list_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    excluding: uuid.UUID | None,
) -> list[tuple[str, uuid.UUID]]:
    parent = Task.parent_id.is_(None) if parent_id is None else Task.parent_id == parent_id
    statement = (
        select(Task.position, Task.id)
        .where(Task.list_id == list_id, parent)
        .order_by(Task.position, Task.id)
    )
    if excluding is not None:
        statement = statement.where(Task.id != excluding)
    return [(row.position, row.id) for row in await connection.execute(statement)]


async def end_position(
    *,
    connection: AsyncConnection,
    list_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    excluding: uuid.UUID | None = None,
) -> str:
    """A key after every sibling (the list must be locked)."""
    parent = Task.parent_id.is_(None) if parent_id is None else Task.parent_id == parent_id
    statement = select(func.max(Task.position)).where(Task.list_id == list_id, parent)
    if excluding is not None:
        statement = statement.where(Task.id != excluding)
    last = (await connection.execute(statement)).scalar_one_or_none()
    return positions.between(last, None)


async def anchored_position(
    *,
    connection: AsyncConnection,
    list_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    task_id: uuid.UUID,
    before_id: uuid.UUID | None,
    after_id: uuid.UUID | None,
) -> tuple[str, list[tuple[str, uuid.UUID]]]:
    """The key just before `before_id` or after `after_id` (a sibling in the target), or at the
    end; and the siblings, for a rebalance."""
    siblings = await _sibling_keys(connection, list_id, parent_id, task_id)
    anchor = before_id or after_id
    if anchor is None:
        return positions.between(siblings[-1][0] if siblings else None, None), siblings
    index = next((n for n, (_, sibling) in enumerate(siblings) if sibling == anchor), None)
    if index is None:
        field = "before_id" if before_id is not None else "after_id"
        raise invalid_move(field, "must be another task with the same list and parent")
    if before_id is not None:
        low = siblings[index - 1][0] if index > 0 else None
        high: str | None = siblings[index][0]
    else:
        low = siblings[index][0]
        high = siblings[index + 1][0] if index + 1 < len(siblings) else None
    if low == high:  # two siblings share a key (only after a rare tie): spread them first
        raise _Rebalance(siblings)
    return positions.between(low, high), siblings


class _Rebalance(Exception):
    def __init__(self, siblings: list[tuple[str, uuid.UUID]]) -> None:
        self.siblings = siblings


async def visible_parent(
    *, connection: AsyncConnection, user_id: uuid.UUID, parent_id: uuid.UUID
) -> Record:
    """The parent's list and level, if the caller may see it; else 422 `invalid_parent`."""
    row = (await connection.execute(_PARENT_ROW, {"task_id": parent_id})).mappings().one_or_none()
    if (
        row is None
        or await role_in(connection=connection, user_id=user_id, list_id=row["list_id"]) is None
    ):
        raise invalid_parent("no such task")
    return dict(row)


_PARENT_ROW = select(Task.id, Task.list_id, Task.parent_id, Task.recurrence).where(
    Task.id == bindparam("task_id")
)


async def check_assignee(
    *, connection: AsyncConnection, list_id: uuid.UUID, assignee_id: uuid.UUID | None
) -> None:
    if assignee_id is None:
        return
    if await role_in(connection=connection, user_id=assignee_id, list_id=list_id) is None:
        raise invalid_assignee()


async def place_new(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    list_id: uuid.UUID | None,
    parent_id: uuid.UUID | None,
    recurring: bool,
) -> Record:
    """Where a new task goes: its list (default: the Inbox, or the parent's list), its parent,
    at the end of its siblings. Checks the caller may write there (404/403)."""
    if list_id is not None:
        await require_role(connection=connection, user_id=user_id, list_id=list_id, needed="editor")
    if parent_id is not None:
        parent = await visible_parent(connection=connection, user_id=user_id, parent_id=parent_id)
        if list_id is not None and parent["list_id"] != list_id:
            raise invalid_parent("must be a task in the same list")
        list_id = parent["list_id"]
        await require_role(connection=connection, user_id=user_id, list_id=list_id, needed="editor")
        if recurring:
            from app.tasks.errors import InvalidField

            raise InvalidField("recurrence", "a subtask cannot have a recurrence")
    if list_id is None:
        list_id = await lists.inbox_id(connection=connection, user_id=user_id)
    await lock_lists(connection=connection, list_ids=[list_id])
    if parent_id is not None and await depth(connection=connection, task_id=parent_id) >= MAX_DEPTH:
        raise invalid_parent("a subtask there would be a fifth level (at most 4)")
    position = await end_position(connection=connection, list_id=list_id, parent_id=parent_id)
    return {"list_id": list_id, "parent_id": parent_id, "position": position}
