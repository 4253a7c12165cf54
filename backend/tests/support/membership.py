"""Membership rows written directly: the sharing routes are not merged yet, and these tests
need a list with a second member (who sees its tasks by the one visibility rule)."""

import uuid
from typing import Any

import httpx
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.models import utcnow
from app.lists.models import ListMember


async def user_id_of(client: httpx.AsyncClient, headers: dict[str, str]) -> uuid.UUID:
    """A user's id: the owner of their Inbox."""
    lists: list[Any] = (await client.get("/api/lists", headers=headers)).json()
    return uuid.UUID(next(item["owner_id"] for item in lists if item["is_inbox"]))


async def add_member(
    engine: AsyncEngine, list_id: str, user_id: uuid.UUID, role: str = "editor"
) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(ListMember).values(
                list_id=uuid.UUID(list_id),
                user_id=user_id,
                role=role,
                position="z0",
                joined_at=utcnow(),
            )
        )


async def remove_member(engine: AsyncEngine, list_id: str, user_id: uuid.UUID) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            delete(ListMember).where(
                ListMember.list_id == uuid.UUID(list_id), ListMember.user_id == user_id
            )
        )
