"""The one visibility rule: a user sees the lists they are a member of, and the tasks in them.
Every channel starts from here: the REST routes, the fast reads (they run the same statements),
delta sync, the event streams (they read the change log, which records every member) and MCP.
Role checks (viewer < editor < owner) are here too. Outside the rule is "not found", exactly as
an unknown id; a member without the role gets 403 `forbidden`."""

import uuid
from typing import Literal

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import QueryableAttribute

from app.core.errors import AppError
from app.lists.errors import Forbidden, ListNotFound
from app.lists.models import ListMember, TaskList
from app.tasks.models import Task

Role = Literal["viewer", "editor", "owner"]
RANK: dict[str, int] = {"viewer": 1, "editor": 2, "owner": 3}

# The bind parameter every read names its viewer by (`app.accounts.sessions.read_parameters`).
VIEWER = "owner_id"
# Whose membership: a column (the delta sync's `users.id`), a literal, or (None) the viewer.
Who = ColumnElement[uuid.UUID] | QueryableAttribute[uuid.UUID] | None


def member_list_ids(user_id: Who = None) -> Select[uuid.UUID]:
    """SELECT list_id FROM list_members WHERE user_id = :owner_id (or the given user)."""
    who = bindparam(VIEWER, type_=ListMember.user_id.type) if user_id is None else user_id
    return select(ListMember.list_id).where(ListMember.user_id == who)


def visible_tasks(user_id: Who = None) -> ColumnElement[bool]:
    """The condition "the task is in a list the user is a member of"."""
    return Task.list_id.in_(member_list_ids(user_id))


def visible_lists(user_id: Who = None) -> ColumnElement[bool]:
    """The condition "the user is a member of the list"."""
    return TaskList.id.in_(member_list_ids(user_id))


def check_role(held: str | None, needed: Role, *, not_found: type[AppError] = ListNotFound) -> str:
    """The role check: no membership is `not_found` (as for an unknown id), too low a role is
    403 `forbidden`. Returns the role held."""
    if held is None:
        raise not_found()
    if RANK[held] < RANK[needed]:
        raise Forbidden()
    return held


_ROLE = select(ListMember.role).where(
    ListMember.list_id == bindparam("list_id"), ListMember.user_id == bindparam("user_id")
)


async def role_in(
    *, connection: AsyncConnection, user_id: uuid.UUID, list_id: uuid.UUID
) -> str | None:
    """The user's role in the list, None when they are not a member (or there is no list)."""
    result = await connection.execute(_ROLE, {"list_id": list_id, "user_id": user_id})
    return result.scalar_one_or_none()


async def require_role(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    list_id: uuid.UUID,
    needed: Role,
    not_found: type[AppError] = ListNotFound,
) -> str:
    """The user's role in the list, checked against `needed` (see `check_role`)."""
    held = await role_in(connection=connection, user_id=user_id, list_id=list_id)
    return check_role(held, needed, not_found=not_found)
