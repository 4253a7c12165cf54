"""The list operations the routes and MCP call: keyword-only, free of HTTP, in the caller's
transaction. Every operation starts from the visibility rule and the role check."""

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.lists import positions, queries
from app.lists.errors import (
    InboxProtected,
    LimitReached,
    ListNotFound,
    ListPreconditionFailed,
)
from app.lists.schemas import ListCreate, ListMove, ListPatch
from app.lists.visibility import require_role
from app.tasks import service as task_service

Record = dict[str, Any]
MAX_OWNED_LISTS = 500
ARCHIVED_FILTER = {"false": False, "true": True, "all": None}


async def list_lists(
    *, connection: AsyncConnection, user_id: uuid.UUID, archived: str = "false"
) -> list[Record]:
    return await queries.list_lists(
        connection=connection, user_id=user_id, archived=ARCHIVED_FILTER[archived]
    )


async def get_list(
    *, connection: AsyncConnection, user_id: uuid.UUID, list_id: uuid.UUID
) -> Record:
    return await queries.get_list(connection=connection, user_id=user_id, list_id=list_id)


async def create_list(
    *, connection: AsyncConnection, user_id: uuid.UUID, data: ListCreate
) -> Record:
    await queries.lock_user(connection=connection, user_id=user_id)
    if await queries.owned_count(connection=connection, user_id=user_id) >= MAX_OWNED_LISTS:
        raise LimitReached()
    list_id = await queries.insert_list(
        connection=connection, owner_id=user_id, name=data.name, color=data.color
    )
    return await get_list(connection=connection, user_id=user_id, list_id=list_id)


async def _lock_owned(
    connection: AsyncConnection,
    user_id: uuid.UUID,
    list_id: uuid.UUID,
    if_match: Collection[int] | None,
) -> Record:
    """The list locked, after checking that the caller owns it and If-Match holds."""
    await require_role(connection=connection, user_id=user_id, list_id=list_id, needed="owner")
    locked = await queries.lock_list(connection=connection, list_id=list_id)
    if locked is None:
        raise ListNotFound()
    if if_match is not None and locked["version"] not in if_match:
        raise ListPreconditionFailed(current_version=locked["version"])
    return locked


async def update_list(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    list_id: uuid.UUID,
    data: ListPatch,
    if_match: Collection[int] | None = None,
) -> Record:
    locked = await _lock_owned(connection, user_id, list_id, if_match)
    values = data.model_dump(exclude_unset=True)
    if locked["inbox_of"] is not None and ("name" in values or values.get("archived")):
        raise InboxProtected()
    current = await get_list(connection=connection, user_id=user_id, list_id=list_id)
    if any(current[key] != value for key, value in values.items()):
        await queries.update_list_row(
            connection=connection, list_id=list_id, values=values, version=locked["version"]
        )
    return await get_list(connection=connection, user_id=user_id, list_id=list_id)


async def delete_list(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    list_id: uuid.UUID,
    if_match: Collection[int] | None = None,
) -> None:
    """Delete a list and every task in it (each task's deletion is in the change log)."""
    locked = await _lock_owned(connection, user_id, list_id, if_match)
    if locked["inbox_of"] is not None:
        raise InboxProtected()
    await task_service.delete_tasks_of_list(connection=connection, user_id=user_id, list_id=list_id)
    await queries.delete_list_row(connection=connection, list_id=list_id)


async def move_list(
    *, connection: AsyncConnection, user_id: uuid.UUID, list_id: uuid.UUID, data: ListMove
) -> list[Record]:
    """Move a list in the caller's own sidebar, just before or after another of their lists."""
    await queries.lock_user(connection=connection, user_id=user_id)
    moving = await get_list(connection=connection, user_id=user_id, list_id=list_id)
    anchor_id = data.before_id or data.after_id
    assert anchor_id is not None  # ListMove checks it
    anchor = await get_list(connection=connection, user_id=user_id, list_id=anchor_id)
    if moving["is_inbox"] or (anchor["is_inbox"] and data.before_id is not None):
        raise InboxProtected()
    if anchor_id != list_id:
        anchor_key = await queries.member_position(
            connection=connection, user_id=user_id, list_id=anchor_id
        )
        assert anchor_key is not None
        if data.before_id is not None:
            low = await queries.previous_position(
                connection=connection, user_id=user_id, before=anchor_key
            )
            key = positions.between(low, anchor_key)
        else:
            high = await queries.next_position(
                connection=connection, user_id=user_id, after=anchor_key
            )
            key = positions.between(anchor_key, high)
        await queries.set_member_position(
            connection=connection, user_id=user_id, list_id=list_id, position=key
        )
    return await list_lists(connection=connection, user_id=user_id)
