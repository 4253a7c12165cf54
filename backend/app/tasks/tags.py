"""Tags: a user's tag names, the join table that filters use, and the tags no task carries
any more (deleted). Every function runs inside a task write, after the owner's lock."""

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Uuid, delete, exists, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.tasks.models import Tag, TaskTag


def name_key(name: str) -> str:
    """What makes two tag names the same tag: case-insensitive, Unicode-aware."""
    return name.casefold()


async def canonical_tags(
    *, connection: AsyncConnection, owner_id: uuid.UUID, names: Sequence[str]
) -> list[tuple[uuid.UUID, str]]:
    """The owner's tags for `names` (created where new), as (id, canonical name) in the order
    given. The canonical name is the case a tag was first used in."""
    if not names:
        return []
    keys = [name_key(name) for name in names]
    rows = [
        {"id": uuid.uuid4(), "user_id": owner_id, "name": name, "name_key": key}
        for name, key in zip(names, keys, strict=True)
    ]
    target = ["user_id", "name_key"]  # uq_tags_user_name_key
    if connection.dialect.name == "postgresql":
        await connection.execute(
            postgresql.insert(Tag).on_conflict_do_nothing(index_elements=target), rows
        )
    else:
        await connection.execute(
            sqlite.insert(Tag).on_conflict_do_nothing(index_elements=target), rows
        )
    found = await connection.execute(
        select(Tag.id, Tag.name, Tag.name_key).where(
            Tag.user_id == owner_id, Tag.name_key.in_(keys)
        )
    )
    by_key = {row.name_key: (row.id, row.name) for row in found}
    return [by_key[key] for key in dict.fromkeys(keys)]


async def link(
    *, connection: AsyncConnection, task_ids: Collection[uuid.UUID], tag_ids: Collection[uuid.UUID]
) -> None:
    rows = [{"task_id": task_id, "tag_id": tag_id} for task_id in task_ids for tag_id in tag_ids]
    if rows:
        await connection.execute(insert(TaskTag), rows)


async def unlink_all(*, connection: AsyncConnection, task_id: uuid.UUID) -> list[uuid.UUID]:
    """Remove a task's tags; returns the tags it had (for `delete_unused`)."""
    result = await connection.execute(
        delete(TaskTag).where(TaskTag.task_id == task_id).returning(TaskTag.tag_id)
    )
    return list(result.scalars())


async def delete_unused(
    *, connection: AsyncConnection, owner_id: uuid.UUID, tag_ids: Collection[uuid.UUID]
) -> None:
    """Delete those of these tags that no task carries any more."""
    if not tag_ids:
        return
    carried = exists().where(TaskTag.tag_id == Tag.id)
    await connection.execute(
        delete(Tag).where(Tag.user_id == owner_id, Tag.id.in_(list(tag_ids)), ~carried)
    )


async def delete_unused_by_name(
    *, connection: AsyncConnection, owner_id: uuid.UUID, names: Collection[str]
) -> None:
    if not names:
        return
    keys = [name_key(name) for name in names]
    carried = exists().where(TaskTag.tag_id == Tag.id)
    await connection.execute(
        delete(Tag).where(Tag.user_id == owner_id, Tag.name_key.in_(keys), ~carried)
    )


async def find_tag(
    *, connection: AsyncConnection, owner_id: uuid.UUID, name: str
) -> tuple[uuid.UUID, str] | None:
    row = (
        await connection.execute(
            select(Tag.id, Tag.name).where(Tag.user_id == owner_id, Tag.name_key == name_key(name))
        )
    ).one_or_none()
    return None if row is None else (row.id, row.name)


async def tagged_task_ids(*, connection: AsyncConnection, tag_id: uuid.UUID) -> list[uuid.UUID]:
    result = await connection.execute(select(TaskTag.task_id).where(TaskTag.tag_id == tag_id))
    return list(result.scalars())


async def tag_counts(*, connection: AsyncConnection, owner_id: uuid.UUID) -> list[dict[str, Any]]:
    """The owner's tags with how many tasks carry each, by name case-insensitively."""
    statement = (
        select(Tag.name, func.count(TaskTag.task_id).label("count"))
        .join(TaskTag, TaskTag.tag_id == Tag.id)
        .where(Tag.user_id == owner_id)
        .group_by(Tag.id, Tag.name)
    )
    rows = [dict(row._mapping) for row in await connection.execute(statement)]
    # Sorted here: the same order on both databases, whatever their collation.
    return sorted(rows, key=lambda row: (name_key(row["name"]), row["name"]))


async def rename(*, connection: AsyncConnection, tag_id: uuid.UUID, name: str) -> None:
    await connection.execute(update(Tag).where(Tag.id == tag_id).values(name=name))


async def move_links(
    *, connection: AsyncConnection, source_id: uuid.UUID, target_id: uuid.UUID
) -> None:
    """Every task carrying `source` carries `target` instead; `source` is deleted."""
    already = select(TaskTag.task_id).where(TaskTag.tag_id == target_id)
    moving = select(TaskTag.task_id, literal(target_id, Uuid)).where(
        TaskTag.tag_id == source_id, TaskTag.task_id.not_in(already)
    )
    await connection.execute(insert(TaskTag).from_select(["task_id", "tag_id"], moving))
    await delete_tag(connection=connection, tag_id=source_id)


async def delete_tag(*, connection: AsyncConnection, tag_id: uuid.UUID) -> None:
    """Delete a tag; its links go with it (ON DELETE CASCADE)."""
    await connection.execute(delete(TaskTag).where(TaskTag.tag_id == tag_id))
    await connection.execute(delete(Tag).where(Tag.id == tag_id))
