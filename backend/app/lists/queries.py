"""The lists domain's queries: a list as its member sees it, the member rows, the lock that
serialises structural writes in one list. Keyword-only; every read starts from the visibility
rule (`visibility`)."""

import uuid
from typing import Any

from sqlalchemy import (
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import User
from app.core.models import utcnow
from app.integrations.events import EventType
from app.integrations.outbox import enqueue
from app.lists import positions
from app.lists.errors import ListNotFound
from app.lists.models import ListMember, TaskList
from app.lists.schemas import ListPublic
from app.lists.visibility import VIEWER
from app.sync.changelog import ChangeKind, record_for_members

Record = dict[str, Any]
INBOX_NAME = "Inbox"
# The webhook event of each change to a list itself (a new list has none).
LIST_EVENTS: dict[ChangeKind, EventType] = {"updated": "list.updated", "deleted": "list.deleted"}

_owner = (
    select(ListMember.user_id)
    .where(ListMember.list_id == TaskList.id, ListMember.role == "owner")
    .correlate(TaskList)
    .scalar_subquery()
)
_member_count = (
    select(func.count())
    .select_from(ListMember)
    .where(ListMember.list_id == TaskList.id)
    .correlate(TaskList)
    .scalar_subquery()
)
_mine = ListMember.__table__.alias("mine")

# A list as the viewer (`:owner_id`, a member) sees it: the visibility rule is the join on the
# viewer's own membership row.
LIST_COLUMNS = (
    TaskList.id,
    TaskList.name,
    TaskList.color,
    (TaskList.inbox_of.is_not(None)).label("is_inbox"),
    _mine.c.role.label("role"),
    _owner.label("owner_id"),
    TaskList.archived,
    _member_count.label("member_count"),
    TaskList.created_at,
    TaskList.updated_at,
    TaskList.version,
)
VISIBLE_LISTS = select(*LIST_COLUMNS).join(
    _mine,
    (_mine.c.list_id == TaskList.id)
    & (_mine.c.user_id == bindparam(VIEWER, type_=ListMember.user_id.type)),
)
SIDEBAR_ORDER = (case((TaskList.inbox_of.is_not(None), 0), else_=1), _mine.c.position, TaskList.id)


async def list_lists(
    *, connection: AsyncConnection, user_id: uuid.UUID, archived: bool | None
) -> list[Record]:
    """The user's lists in their sidebar order, the Inbox first (`archived` None: all)."""
    statement = VISIBLE_LISTS
    if archived is not None:
        statement = statement.where(TaskList.archived.is_(archived))
    rows = await connection.execute(statement.order_by(*SIDEBAR_ORDER), {VIEWER: user_id})
    return [dict(row) for row in rows.mappings()]


async def get_list(
    *, connection: AsyncConnection, user_id: uuid.UUID, list_id: uuid.UUID
) -> Record:
    statement = VISIBLE_LISTS.where(TaskList.id == list_id)
    row = (await connection.execute(statement, {VIEWER: user_id})).mappings().one_or_none()
    if row is None:
        raise ListNotFound()
    return dict(row)


async def lock_list(*, connection: AsyncConnection, list_id: uuid.UUID) -> Record | None:
    """Lock a list row: serialises the structural writes in one list (moves, creates at the end,
    the list's own changes). None when there is no such list."""
    statement = (
        select(TaskList.id, TaskList.inbox_of, TaskList.version, TaskList.updated_at)
        .where(TaskList.id == list_id)
        .with_for_update()
    )
    row = (await connection.execute(statement)).mappings().one_or_none()
    return None if row is None else dict(row)


async def lock_user(*, connection: AsyncConnection, user_id: uuid.UUID) -> None:
    """The user's row (the change log's lock): serialises the user's list creations (the limit)."""
    statement = select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    if (await connection.execute(statement)).scalar_one_or_none() is None:
        raise ListNotFound()


async def owned_count(*, connection: AsyncConnection, user_id: uuid.UUID) -> int:
    statement = select(func.count()).where(
        ListMember.user_id == user_id, ListMember.role == "owner"
    )
    return (await connection.execute(statement)).scalar_one()


async def member_ids(*, connection: AsyncConnection, list_id: uuid.UUID) -> list[uuid.UUID]:
    statement = select(ListMember.user_id).where(ListMember.list_id == list_id)
    return sorted(await connection.scalars(statement))


async def create_inbox(*, connection: AsyncConnection, user_id: uuid.UUID) -> uuid.UUID:
    """The Inbox of a new account, in the transaction that creates the account (every place
    that inserts a user calls this)."""
    return await insert_list(
        connection=connection, owner_id=user_id, name=INBOX_NAME, color=None, inbox=True
    )


async def inbox_id(*, connection: AsyncConnection, user_id: uuid.UUID) -> uuid.UUID:
    statement = select(TaskList.id).where(TaskList.inbox_of == user_id)
    found = (await connection.execute(statement)).scalar_one_or_none()
    if found is None:
        raise ListNotFound()
    return found


async def record_list_change(
    *, connection: AsyncConnection, list_id: uuid.UUID, kind: ChangeKind
) -> None:
    """A change to the list itself, in the log of each of its members (`list.*` events), and
    on each member's webhooks: `list.updated` with the list as that member sees it (their role),
    `list.deleted` with its id (recorded before the row goes). A new list has no event."""
    members = await member_ids(connection=connection, list_id=list_id)
    await record_for_members(
        connection=connection, member_ids=members, ids=[list_id], kind=kind, entity="list"
    )
    if kind not in LIST_EVENTS:
        return
    for user_id in members:
        data: Record = {"id": str(list_id)}
        if kind == "updated":
            seen = await get_list(connection=connection, user_id=user_id, list_id=list_id)
            data = ListPublic.model_validate(seen).model_dump(mode="json")
        await enqueue(connection=connection, user_id=user_id, event=LIST_EVENTS[kind], data=data)


async def last_position(*, connection: AsyncConnection, user_id: uuid.UUID) -> str | None:
    statement = select(func.max(ListMember.position)).where(ListMember.user_id == user_id)
    return (await connection.execute(statement)).scalar_one_or_none()


async def insert_list(
    *,
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    name: str,
    color: str | None,
    inbox: bool = False,
) -> uuid.UUID:
    """A new list with its owner as its one member, at the end of the owner's sidebar."""
    now = utcnow()
    list_id = uuid.uuid4()
    await connection.execute(
        insert(TaskList).values(
            id=list_id,
            name=name,
            color=color,
            inbox_of=owner_id if inbox else None,
            archived=False,
            created_at=now,
            updated_at=now,
            version=1,
        )
    )
    after = None if inbox else await last_position(connection=connection, user_id=owner_id)
    await connection.execute(
        insert(ListMember).values(
            list_id=list_id,
            user_id=owner_id,
            role="owner",
            position=positions.between(after, None),
            joined_at=now,
        )
    )
    await record_list_change(connection=connection, list_id=list_id, kind="created")
    return list_id


async def update_list_row(
    *, connection: AsyncConnection, list_id: uuid.UUID, values: Record, version: int
) -> None:
    statement = (
        update(TaskList)
        .where(TaskList.id == list_id)
        .values(**values, version=version + 1, updated_at=utcnow())
    )
    await connection.execute(statement)
    await record_list_change(connection=connection, list_id=list_id, kind="updated")


async def delete_list_row(*, connection: AsyncConnection, list_id: uuid.UUID) -> None:
    await record_list_change(connection=connection, list_id=list_id, kind="deleted")
    await connection.execute(delete(TaskList).where(TaskList.id == list_id))


async def member_position(
    *, connection: AsyncConnection, user_id: uuid.UUID, list_id: uuid.UUID
) -> str | None:
    statement = select(ListMember.position).where(
        ListMember.user_id == user_id, ListMember.list_id == list_id
    )
    return (await connection.execute(statement)).scalar_one_or_none()


async def next_position(
    *, connection: AsyncConnection, user_id: uuid.UUID, after: str
) -> str | None:
    """The user's sidebar key that follows `after` (None: `after` is the last)."""
    statement = select(func.min(ListMember.position)).where(
        ListMember.user_id == user_id, ListMember.position > after
    )
    return (await connection.execute(statement)).scalar_one_or_none()


async def previous_position(
    *, connection: AsyncConnection, user_id: uuid.UUID, before: str
) -> str | None:
    statement = select(func.max(ListMember.position)).where(
        ListMember.user_id == user_id, ListMember.position < before
    )
    return (await connection.execute(statement)).scalar_one_or_none()


async def set_member_position(
    *, connection: AsyncConnection, user_id: uuid.UUID, list_id: uuid.UUID, position: str
) -> None:
    statement = (
        update(ListMember)
        .where(ListMember.user_id == user_id, ListMember.list_id == list_id)
        .values(position=position)
    )
    await connection.execute(statement)
