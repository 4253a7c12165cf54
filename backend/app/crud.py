"""Every query the service runs. Keyword-only; task queries are always scoped by their owner."""

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.database import AnySelect, Statement, fetch_all
from app.errors import EmailTaken, SessionRevoked, TaskNotFound, TokenInvalid
from app.models import AuthSession, PriorityRank, RefreshToken, Task, User, utcnow
from app.schemas import TaskCreate, TaskPatch, TaskQuery, UserPublic


def _updated_after(previous: datetime) -> datetime:
    """A new `updated_at`: now, but strictly later than `previous` even within the clock's
    resolution, because clients compare it."""
    return max(utcnow(), previous + timedelta(microseconds=1))


# --- users ------------------------------------------------------------------------------------


async def get_local_user_by_email(*, session: AsyncSession, email: str) -> User | None:
    statement = select(User).where(User.email == email, User.external_subject.is_(None))
    return (await session.execute(statement)).scalar_one_or_none()


async def create_local_user(
    *, session: AsyncSession, email: str, name: str, password_hash: str
) -> User:
    now = utcnow()
    user = User(email=email, name=name, password_hash=password_hash, created_at=now, updated_at=now)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # Two registrations raced past the lookup: the unique index decides, once.
        raise EmailTaken() from None
    return user


@dataclass(frozen=True)
class Caller:
    """Whom a verified token speaks for. `session_id` is the session of one of our access
    tokens, not checked yet; None for a Better Auth user, whose token leaves nothing to check."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None


# The user and session behind one of our access tokens, by primary keys.
_SESSION_USER = Statement(
    select(
        User.id,
        User.email,
        User.name,
        User.created_at,
        User.updated_at,
        AuthSession.revoked_at,
        AuthSession.expires_at,
    )
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(AuthSession.id == bindparam("session_id"), User.id == bindparam("user_id"))
)


async def get_user_for_session(
    *, connection: AsyncConnection, user_id: uuid.UUID, session_id: uuid.UUID
) -> UserPublic:
    """The user behind one of our access tokens, in one indexed lookup. 401 unless the session
    is that user's and live: `token_invalid` for no such session, else `session_revoked`."""
    rows = await fetch_all(
        connection, _SESSION_USER, {"session_id": session_id, "user_id": user_id}
    )
    if not rows:
        raise TokenInvalid()
    row = rows[0]
    if row["revoked_at"] is not None or row["expires_at"] <= utcnow():
        raise SessionRevoked()
    return UserPublic.model_validate(row)


async def require_live_session(*, connection: AsyncConnection, caller: Caller) -> None:
    """Raise the 401 `get_user_for_session` would, if the caller's session is not live."""
    if caller.session_id is not None:
        await get_user_for_session(
            connection=connection, user_id=caller.user_id, session_id=caller.session_id
        )


# A task read's own check of the caller's session (see `_read_parameters`): part of the same
# statement as the data, where a separate lookup would cost a round trip on every request.
_SESSION_IS_LIVE = (
    select(AuthSession.id)
    .where(
        AuthSession.id == bindparam("session_id"),
        AuthSession.user_id == bindparam("owner_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
    .exists()
)


def _read_parameters(caller: Caller) -> dict[str, Any]:
    """The values of a task read's owner filter and, for a caller with a session, of
    `_SESSION_IS_LIVE`. A read that finds nothing for such a caller cannot tell an empty
    result from a dead session: it asks `require_live_session` before answering."""
    if caller.session_id is None:
        return {"owner_id": caller.user_id}
    return {"owner_id": caller.user_id, "session_id": caller.session_id, "now": utcnow()}


# --- sessions and refresh tokens --------------------------------------------------------------


async def create_auth_session(
    *, session: AsyncSession, user_id: uuid.UUID, expires_at: datetime, refresh_hash: str
) -> AuthSession:
    auth_session = AuthSession(user_id=user_id, expires_at=expires_at)
    session.add(auth_session)
    await session.flush()
    session.add(RefreshToken(token_hash=refresh_hash, session_id=auth_session.id))
    await session.flush()
    return auth_session


async def add_refresh_token(
    *, session: AsyncSession, session_id: uuid.UUID, refresh_hash: str
) -> None:
    session.add(RefreshToken(token_hash=refresh_hash, session_id=session_id))
    await session.flush()


async def retire_refresh_token(*, session: AsyncSession, token_hash: str) -> uuid.UUID | None:
    """Mark an unused token used, atomically: of concurrent callers only one gets its session."""
    statement = (
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .returning(RefreshToken.session_id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_refresh_token_session_id(
    *, session: AsyncSession, token_hash: str
) -> uuid.UUID | None:
    statement = select(RefreshToken.session_id).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_session_with_user(
    *, session: AsyncSession, session_id: uuid.UUID
) -> tuple[AuthSession, User] | None:
    statement = (
        select(AuthSession, User)
        .join(User, AuthSession.user_id == User.id)
        .where(AuthSession.id == session_id)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row[0], row[1])


async def revoke_auth_session(*, session: AsyncSession, session_id: uuid.UUID) -> None:
    statement = (
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.execute(statement)


# --- tasks ------------------------------------------------------------------------------------

SORT_COLUMNS = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "priority": Task.priority,
    "title": Task.title,
}


SEARCH_SEPARATOR = "\x1f"


def search_text(title: str, description: str | None) -> str:
    """What `search` matches against: both fields case-folded, kept apart by a separator that
    neither field nor a search term can contain (it reads as a space in them)."""
    fields = (title.casefold(), (description or "").casefold())
    return SEARCH_SEPARATOR.join(field.replace(SEARCH_SEPARATOR, " ") for field in fields)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# What the API shows of a task: the public columns (no search_text).
PUBLIC_COLUMNS = (
    Task.id,
    Task.user_id,
    Task.title,
    Task.description,
    Task.completed,
    Task.priority,
    Task.created_at,
    Task.updated_at,
)
_OWNED_TASK = (Task.user_id == bindparam("owner_id"), Task.id == bindparam("task_id"))
# One task, by a caller without a session to check and by one with (`_read_parameters`).
_GET_TASK = {
    checks_session: Statement(
        select(*PUBLIC_COLUMNS).where(*_OWNED_TASK, *([_SESSION_IS_LIVE] if checks_session else []))
    )
    for checks_session in (False, True)
}
_LOCK_TASK = select(*PUBLIC_COLUMNS).where(*_OWNED_TASK).with_for_update()


@dataclass(frozen=True)
class ListShapes:
    page: Statement  # the page, with the number of matches in every row as `total`
    count: Statement  # the number of matches, for a page past the end


@functools.cache
def _list_shapes(
    status: str, by_priority: bool, by_search: bool, sort: str, checks_session: bool
) -> ListShapes:
    """The page and count statements for one combination of filters and sort, built once.

    Values (owner, session, priority, pattern, limit, offset) are bind parameters, so every
    request reuses the same statements and their compiled SQL. The count runs only once the
    session is known to be live: it does not check it again.
    """
    filters: list[ColumnElement[bool]] = [Task.user_id == bindparam("owner_id")]
    if status != "all":
        filters.append(Task.completed.is_(status == "completed"))
    if by_priority:
        filters.append(Task.priority == bindparam("priority", type_=PriorityRank))
    if by_search:
        filters.append(Task.search_text.like(bindparam("pattern"), escape="\\"))
    column = SORT_COLUMNS[sort.lstrip("-")]
    descending = sort.startswith("-")
    order = (column.desc(), Task.id.desc()) if descending else (column.asc(), Task.id.asc())
    count = select(func.count().label("total")).select_from(Task).where(*filters)
    # The count as a subquery, not `count(*) OVER ()`: a window reads every matching row in
    # full before the first one is returned, while the subquery can count in the index
    # (often without visiting the table) and the page stops after `limit` rows.
    page = (
        select(*PUBLIC_COLUMNS, count.scalar_subquery().correlate(None).label("total"))
        .where(*filters, *([_SESSION_IS_LIVE] if checks_session else []))
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return ListShapes(Statement(page), Statement(count))


def _list_parameters(caller: Caller, query: TaskQuery) -> dict[str, Any]:
    parameters = _read_parameters(caller)
    parameters["limit"] = query.limit
    parameters["offset"] = (query.page - 1) * query.limit
    if query.priority is not None:
        parameters["priority"] = query.priority
    if query.search:
        term = query.search.casefold().replace(SEARCH_SEPARATOR, " ")
        parameters["pattern"] = f"%{_escape_like(term)}%"
    return parameters


def _shapes_for(caller: Caller, query: TaskQuery) -> ListShapes:
    return _list_shapes(
        query.status,
        query.priority is not None,
        bool(query.search),
        query.sort,
        caller.session_id is not None,
    )


def list_statements(*, caller: Caller, query: TaskQuery) -> tuple[AnySelect, ...]:
    """The page and count statements of a list request with their values bound (for EXPLAIN)."""
    parameters = _list_parameters(caller, query)
    shapes = _shapes_for(caller, query)
    return shapes.page.select.params(parameters), shapes.count.select.params(parameters)


Record = dict[str, Any]


async def list_tasks(
    *, connection: AsyncConnection, caller: Caller, query: TaskQuery
) -> tuple[list[Record], int]:
    """One page of the caller's tasks and the number of matches before paging, with the
    caller's session checked: one statement (three when the page is empty)."""
    parameters = _list_parameters(caller, query)
    shapes = _shapes_for(caller, query)
    rows = await fetch_all(connection, shapes.page, parameters)
    if rows:
        return rows, rows[0]["total"]
    await require_live_session(connection=connection, caller=caller)
    counted = await fetch_all(connection, shapes.count, parameters)
    return [], counted[0]["total"]


async def get_task(*, connection: AsyncConnection, caller: Caller, task_id: uuid.UUID) -> Record:
    """One of the caller's tasks, with the caller's session checked: one statement (two for a
    task that is not there)."""
    parameters = {**_read_parameters(caller), "task_id": task_id}
    rows = await fetch_all(connection, _GET_TASK[caller.session_id is not None], parameters)
    if not rows:
        await require_live_session(connection=connection, caller=caller)
        raise TaskNotFound()
    return rows[0]


async def create_task(
    *, connection: AsyncConnection, owner_id: uuid.UUID, data: TaskCreate
) -> Record:
    now = utcnow()
    task = {
        "id": uuid.uuid4(),
        "user_id": owner_id,
        **data.model_dump(),
        "created_at": now,
        "updated_at": now,
    }
    search = search_text(data.title, data.description)
    await connection.execute(insert(Task).values({**task, "search_text": search}))
    return task


async def update_task(
    *,
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    data: TaskCreate | TaskPatch,
) -> Record:
    """PUT (a full TaskCreate/TaskUpdate) or PATCH (only the members that were sent)."""
    changes = data.model_dump(exclude_unset=isinstance(data, TaskPatch))
    # Locked so that concurrent writes apply one after the other, each on the latest row.
    parameters = {"owner_id": owner_id, "task_id": task_id}
    current = (await connection.execute(_LOCK_TASK, parameters)).mappings().one_or_none()
    if current is None:
        raise TaskNotFound()
    task = {**current, **changes}
    updated_at = _updated_after(current["updated_at"])
    task["updated_at"] = updated_at
    statement = (
        update(Task)
        .where(Task.id == task_id, Task.user_id == owner_id)
        .values(
            {
                **changes,
                "search_text": search_text(task["title"], task["description"]),
                "updated_at": updated_at,
            }
        )
    )
    await connection.execute(statement)
    return task


async def delete_task(
    *, connection: AsyncConnection, owner_id: uuid.UUID, task_id: uuid.UUID
) -> None:
    statement = delete(Task).where(Task.user_id == owner_id, Task.id == task_id)
    result = await connection.execute(statement)
    if result.rowcount == 0:
        raise TaskNotFound()


# --- Better Auth users ------------------------------------------------------------------------

_USER_COLUMNS = (User.id, User.email, User.name, User.created_at, User.updated_at)
_EXTERNAL_USER = Statement(
    select(*_USER_COLUMNS).where(
        User.external_issuer == bindparam("issuer"), User.external_subject == bindparam("subject")
    )
)


async def get_external_user(
    *, connection: AsyncConnection, issuer: str, subject: str
) -> UserPublic | None:
    rows = await fetch_all(connection, _EXTERNAL_USER, {"issuer": issuer, "subject": subject})
    return UserPublic.model_validate(rows[0]) if rows else None


async def create_external_user(
    *, connection: AsyncConnection, issuer: str, subject: str, email: str, name: str
) -> UserPublic:
    """The user linked to (issuer, subject): inserted, or the one a concurrent first request
    inserted a moment earlier. ON CONFLICT DO NOTHING instead of catching IntegrityError: on
    PostgreSQL a failed INSERT would abort the whole request's transaction."""
    now = utcnow()
    values = {
        "id": uuid.uuid4(),
        "email": email,
        "name": name,
        "external_issuer": issuer,
        "external_subject": subject,
        "created_at": now,
        "updated_at": now,
    }
    target = ["external_issuer", "external_subject"]  # uq_users_external_identity
    if connection.dialect.name == "postgresql":
        pg_insert = postgresql.insert(User).values(values)
        await connection.execute(pg_insert.on_conflict_do_nothing(index_elements=target))
    else:
        sqlite_insert = sqlite.insert(User).values(values)
        await connection.execute(sqlite_insert.on_conflict_do_nothing(index_elements=target))
    user = await get_external_user(connection=connection, issuer=issuer, subject=subject)
    assert user is not None  # inserted above, or by the request that won the race
    return user


async def update_external_user(
    *, connection: AsyncConnection, user: UserPublic, email: str | None, name: str | None
) -> UserPublic:
    """Copy an email or name that changed at the provider; None keeps the stored value. Writes
    only when something changed, so a request with an unchanged token costs no UPDATE."""
    changes = {
        field: value
        for field, value in (("email", email), ("name", name))
        if value is not None and getattr(user, field) != value
    }
    if not changes:
        return user
    updated_at = _updated_after(user.updated_at)
    statement = update(User).where(User.id == user.id).values({**changes, "updated_at": updated_at})
    await connection.execute(statement)
    return user.model_copy(update={**changes, "updated_at": updated_at})
