"""The tasks domain's queries. Keyword-only, and always scoped by the task's owner: another
user's task is simply not found."""

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.sessions import SESSION_IS_LIVE, Caller, read_parameters, require_live_session
from app.core.models import updated_after, utcnow
from app.core.statements import AnySelect, Statement, fetch_all
from app.sync.changelog import lock_changes, record_change
from app.tasks.errors import TaskNotFound
from app.tasks.models import PriorityRank, Task
from app.tasks.schemas import TaskCreate, TaskPatch, TaskQuery

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
# One task, by a caller without a session to check and by one with (`read_parameters`).
_GET_TASK = {
    checks_session: Statement(
        select(*PUBLIC_COLUMNS).where(*_OWNED_TASK, *([SESSION_IS_LIVE] if checks_session else []))
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
        .where(*filters, *([SESSION_IS_LIVE] if checks_session else []))
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return ListShapes(Statement(page), Statement(count))


def _list_parameters(caller: Caller, query: TaskQuery) -> dict[str, Any]:
    parameters = read_parameters(caller)
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
    parameters = {**read_parameters(caller), "task_id": task_id}
    rows = await fetch_all(connection, _GET_TASK[caller.session_id is not None], parameters)
    if not rows:
        await require_live_session(connection=connection, caller=caller)
        raise TaskNotFound()
    return rows[0]


async def create_task(
    *, connection: AsyncConnection, owner_id: uuid.UUID, data: TaskCreate
) -> Record:
    await lock_changes(connection=connection, user_id=owner_id)  # sync hook
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
    await record_change(  # sync hook
        connection=connection, user_id=owner_id, task_id=task["id"], kind="created"
    )
    return task


async def update_task(
    *,
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    task_id: uuid.UUID,
    data: TaskCreate | TaskPatch,
) -> Record:
    """PUT (a full TaskCreate/TaskUpdate) or PATCH (only the members that were sent)."""
    await lock_changes(connection=connection, user_id=owner_id)  # sync hook
    changes = data.model_dump(exclude_unset=isinstance(data, TaskPatch))
    # Locked so that concurrent writes apply one after the other, each on the latest row.
    parameters = {"owner_id": owner_id, "task_id": task_id}
    current = (await connection.execute(_LOCK_TASK, parameters)).mappings().one_or_none()
    if current is None:
        raise TaskNotFound()
    task = {**current, **changes}
    updated_at = updated_after(current["updated_at"])
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
    await record_change(  # sync hook
        connection=connection, user_id=owner_id, task_id=task_id, kind="updated"
    )
    return task


async def delete_task(
    *, connection: AsyncConnection, owner_id: uuid.UUID, task_id: uuid.UUID
) -> None:
    await lock_changes(connection=connection, user_id=owner_id)  # sync hook
    statement = delete(Task).where(Task.user_id == owner_id, Task.id == task_id)
    result = await connection.execute(statement)
    if result.rowcount == 0:
        raise TaskNotFound()
    await record_change(  # sync hook
        connection=connection, user_id=owner_id, task_id=task_id, kind="deleted"
    )
