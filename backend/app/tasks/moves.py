"""Moving a task: to another list, under another parent, before or after a sibling. One move
writes the moved task (and, on a list change, its descendants' `list_id`); its siblings keep
their positions, versions and ETags, unless their keys have grown long (a rebalance of that one
sibling group). Checked under the lock of the lists involved (`structure.lock_lists`)."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.models import updated_after
from app.integrations.events import EventType
from app.lists import positions
from app.lists.visibility import check_role, require_role, role_in
from app.tasks import queries, structure
from app.tasks.errors import InvalidField, PreconditionFailed, invalid_move

Record = dict[str, Any]
UNCHANGED: Any = object()


@dataclass(frozen=True)
class Move:
    list_id: uuid.UUID | None = None
    parent_id: Any = UNCHANGED  # uuid.UUID | None, or UNCHANGED when left out
    before_id: uuid.UUID | None = None
    after_id: uuid.UUID | None = None


def _written(task: Record, **changes: Any) -> Record:
    return {
        **task,
        **changes,
        "updated_at": updated_after(task["updated_at"]),
        "version": task["version"] + 1,
    }


async def move_task(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    task_id: uuid.UUID,
    move: Move,
    if_match: Any = None,
    event: EventType | None = "task.moved",
) -> Record:
    """Move a task (and its subtasks, to another list). `event`: its webhook event (None when
    the caller's own write announces it: a PATCH); the subtasks carried along are each moved."""
    if move.before_id is not None and move.after_id is not None:
        raise invalid_move("after_id", "give at most one of before_id and after_id")
    await queries.lock_owner(connection=connection, owner_id=user_id)
    current = await queries.lock_task(connection=connection, owner_id=user_id, task_id=task_id)
    if if_match is not None and current["version"] not in if_match:
        raise PreconditionFailed(current_version=current["version"])
    held = await role_in(connection=connection, user_id=user_id, list_id=current["list_id"])
    check_role(held, "editor")
    target_list = move.list_id or current["list_id"]
    if target_list != current["list_id"]:
        await require_role(
            connection=connection, user_id=user_id, list_id=target_list, needed="editor"
        )
    parent_id = move.parent_id
    if parent_id is UNCHANGED:
        if target_list != current["list_id"] and current["parent_id"] is not None:
            raise invalid_move("parent_id", "a subtask moved to another list needs a parent_id")
        parent_id = current["parent_id"]
    await structure.lock_lists(connection=connection, list_ids={current["list_id"], target_list})
    subtree = await structure.descendant_levels(connection=connection, task_id=task_id)
    if parent_id is not None:
        parent = await structure.visible_parent(
            connection=connection, user_id=user_id, parent_id=parent_id
        )
        if parent["list_id"] != target_list:
            raise InvalidField(
                "parent_id", "must be a task in the target list", code="invalid_parent"
            )
        if parent_id == task_id or parent_id in {t for level in subtree for t in level}:
            raise invalid_move("parent_id", "a task cannot go under itself or its descendants")
        if current["recurrence"] is not None:
            raise invalid_move("parent_id", "a recurring task cannot be a subtask")
        levels = await structure.depth(connection=connection, task_id=parent_id) + 1 + len(subtree)
        if levels > structure.MAX_DEPTH:
            raise invalid_move("parent_id", "the task and its subtasks would pass 4 levels")
    position = await _position(connection, target_list, parent_id, task_id, move)
    changes: Record = {"list_id": target_list, "parent_id": parent_id, "position": position}
    assignee = current["assignee_id"]
    if target_list != current["list_id"] and assignee is not None:
        # Moving to another list clears an assignee who is not a member there.
        held = await role_in(connection=connection, user_id=assignee, list_id=target_list)
        changes["assignee_id"] = assignee if held is not None else None
    task = _written(current, **changes)
    await queries.update_task_row(
        connection=connection, task=task, previous_list_id=current["list_id"], event=event
    )
    if target_list != current["list_id"]:
        for level in subtree:
            for child in await queries.lock_tasks_by_id(connection=connection, task_ids=level):
                await queries.update_task_row(
                    connection=connection,
                    task=_written(child, list_id=target_list),
                    previous_list_id=child["list_id"],
                    event="task.moved",
                )
    return task


async def _position(
    connection: AsyncConnection,
    list_id: uuid.UUID,
    parent_id: uuid.UUID | None,
    task_id: uuid.UUID,
    move: Move,
) -> str:
    for _ in range(2):
        try:
            key, siblings = await structure.anchored_position(
                connection=connection,
                list_id=list_id,
                parent_id=parent_id,
                task_id=task_id,
                before_id=move.before_id,
                after_id=move.after_id,
            )
        except structure._Rebalance as rebalance:  # noqa: SLF001
            siblings = rebalance.siblings
            key = ""
        if key and len(key) <= positions.REBALANCE_LENGTH:
            return key
        await _rebalance(connection, siblings)
    return key


async def _rebalance(connection: AsyncConnection, siblings: list[tuple[str, uuid.UUID]]) -> None:
    """Give one sibling group short keys again, in their order (a write to each)."""
    ids = [task for _, task in siblings]
    by_id = {
        task["id"]: task
        for task in await queries.lock_tasks_by_id(connection=connection, task_ids=ids)
    }
    for key, task_id in zip(positions.spread(len(ids)), ids, strict=True):
        await queries.update_task_row(
            connection=connection, task=_written(by_id[task_id], position=key)
        )
