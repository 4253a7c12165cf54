"""The list page: every combination of filters and sorts as one statement, built once, with
the caller's session checked inside it (see `app.accounts.sessions`)."""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.sessions import SESSION_IS_LIVE, Caller, read_parameters, require_live_session
from app.core.models import utcnow
from app.core.statements import AnySelect, Statement, fetch_all
from app.lists.models import ListMember
from app.lists.visibility import VIEWER, visible_tasks
from app.tasks.models import PriorityRank, Tag, Task, TaskTag
from app.tasks.schemas import TaskQuery
from app.tasks.tags import name_key

SORT_COLUMNS = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "priority": Task.priority,
    "title": Task.title,
    "due": Task.due_at,
}


SEARCH_SEPARATOR = "\x1f"

# The number of matches is exact up to COUNT_CAP; past it the count stops at COUNT_CAP + 1
# ("more than COUNT_CAP"), so a page costs the same for a user with 50,000 tasks as with
# 10,000: counting every match was most of the page's time (4 of 4.5 ms at 50,000).
COUNT_CAP = 10_000


def search_text(title: str, description: str | None, tags: list[str] | None = None) -> str:
    """What `search` matches against: title, description and each tag case-folded, kept apart
    by a separator that no field nor a search term can contain (it reads as a space in them)."""
    fields = (title.casefold(), (description or "").casefold(), *(t.casefold() for t in tags or ()))
    return SEARCH_SEPARATOR.join(field.replace(SEARCH_SEPARATOR, " ") for field in fields)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# What the API shows of a task: the public columns (no search_text, no recurrence_anchor).
PUBLIC_COLUMNS = (
    Task.id,
    Task.user_id,
    Task.title,
    Task.description,
    Task.completed,
    Task.priority,
    Task.created_at,
    Task.updated_at,
    Task.due_date,
    Task.due_time,
    Task.time_zone,
    Task.due_at,
    Task.recurrence,
    Task.remind_at,
    Task.reminded_at,
    Task.tags,
    Task.series_id,
    Task.version,
    Task.list_id,
    Task.parent_id,
    Task.position,
    Task.assignee_id,
    Task.comment_count,
)


@dataclass(frozen=True)
class ListShape:
    """Which filters a list request uses and how it sorts: one pair of statements each."""

    status: str
    by_priority: bool
    by_search: bool
    sort: str
    checks_session: bool
    tags: int = 0
    due_after: bool = False
    due_before: bool = False
    has_due: bool | None = None
    overdue: bool | None = None
    by_series: bool = False
    lists: int = 0
    by_parent: bool = False
    top_level: bool = False
    by_assignee: bool = False


@dataclass(frozen=True)
class ListShapes:
    page: Statement  # the page, with the number of matches in every row as `total`
    count: Statement  # the number of matches, for a page past the end


def _tagged(position: int) -> AnySelect:
    """The ids of the tasks carrying the owner's tag bound as `tag_<position>`."""
    return (
        select(TaskTag.task_id)
        .join(Tag, Tag.id == TaskTag.tag_id)
        .where(Tag.user_id == bindparam("owner_id"), Tag.name_key == bindparam(f"tag_{position}"))
    )


def _carries_tag(position: int, *, counting: bool) -> ColumnElement[bool]:
    """The task carries the owner's tag bound as `tag_<position>` (by its name key).

    Wrapped in COALESCE so that PostgreSQL keeps it a filter (a hashed subplan: the tag's task
    ids, read once from ix_task_tags_tag_task) on the scan in page order, which stops after a
    page of matches. A bare IN is turned into a join planned for the average tag (about 20
    tasks): for a user with 9,000 tasks under one tag it fetched and sorted all 9,000 for each
    page of 20 (50 ms; 2 ms now)."""
    tagged = _tagged(position)
    if counting:
        # The count wants every match, and a join from the tag's tasks probes only those.
        return Task.id.in_(tagged)
    return func.coalesce(Task.id.in_(tagged), false())


def _filters(shape: ListShape, *, counting: bool = False) -> list[ColumnElement[bool]]:
    # The visibility rule first: the tasks of the lists the caller is a member of.
    filters: list[ColumnElement[bool]] = [visible_tasks()]
    if shape.lists:
        filters.append(
            Task.list_id.in_(
                [bindparam(f"list_{n}", type_=Task.list_id.type) for n in range(shape.lists)]
            )
        )
    if shape.by_parent:
        filters.append(Task.parent_id == bindparam("parent_id", type_=Task.parent_id.type))
    if shape.top_level:
        filters.append(Task.parent_id.is_(None))
    if shape.by_assignee:
        filters.append(Task.assignee_id == bindparam("assignee_id", type_=Task.assignee_id.type))
    if shape.status != "all":
        filters.append(Task.completed.is_(shape.status == "completed"))
    if shape.by_priority:
        filters.append(Task.priority == bindparam("priority", type_=PriorityRank))
    if shape.by_search:
        filters.append(Task.search_text.like(bindparam("pattern"), escape="\\"))
    filters.extend(_carries_tag(p, counting=counting) for p in range(shape.tags))
    if shape.due_after:
        filters.append(Task.due_date >= bindparam("due_after", type_=Task.due_date.type))
    if shape.due_before:
        filters.append(Task.due_date <= bindparam("due_before", type_=Task.due_date.type))
    if shape.has_due is not None:
        filters.append(Task.due_date.is_not(None) if shape.has_due else Task.due_date.is_(None))
    if shape.overdue is not None:
        now = bindparam("now_utc", type_=Task.due_at.type)
        overdue = and_(Task.completed.is_(False), Task.due_at < now)
        not_overdue = or_(Task.completed.is_(True), Task.due_at.is_(None), Task.due_at >= now)
        filters.append(overdue if shape.overdue else not_overdue)
    if shape.by_series:
        filters.append(Task.series_id == bindparam("series_id", type_=Task.series_id.type))
    return filters


# Between the positions of a path: below every key digit, so a task comes before its subtasks
# and they before its next sibling.
PATH_SEPARATOR = " "
MAX_DEPTH = 4


def _manual_order() -> tuple[Any, ...]:
    """sort=position: the lists in the caller's sidebar order, then each list's tasks in manual
    order depth-first. A task's path is its ancestors' positions (top first) and its own, each
    followed by a separator that sorts below every key digit, so that a task comes right before
    its subtasks and they before its next sibling (at most 4 levels: three ancestors)."""
    parent, grandparent, great = (Task.__table__.alias(f"ancestor_{n}") for n in (1, 2, 3))
    # Literals in the SQL, not bind parameters: the driver path binds only named values.
    separator = literal_column(f"'{PATH_SEPARATOR}'", String)
    empty = literal_column("''", String)
    ancestors_path = (
        select(
            func.coalesce(great.c.position + separator, empty)
            + func.coalesce(grandparent.c.position + separator, empty)
            + parent.c.position
            + separator
        )
        .select_from(
            parent.outerjoin(grandparent, grandparent.c.id == parent.c.parent_id).outerjoin(
                great, great.c.id == grandparent.c.parent_id
            )
        )
        .where(parent.c.id == Task.parent_id)
        .correlate(Task)
        .scalar_subquery()
    )
    path = func.coalesce(ancestors_path, empty) + Task.position
    sidebar = (
        select(ListMember.position)
        .where(
            ListMember.list_id == Task.list_id,
            ListMember.user_id == bindparam(VIEWER, type_=ListMember.user_id.type),
        )
        .correlate(Task)
        .scalar_subquery()
    )
    return (sidebar, Task.list_id, path, Task.id)


@functools.cache
def _list_shapes(shape: ListShape) -> ListShapes:
    """The page and count statements for one combination of filters and sort, built once.

    Values (owner, session, filters, pattern, limit, offset) are bind parameters, so every
    request reuses the same statements and their compiled SQL. The count runs only once the
    session is known to be live: it does not check it again.
    """
    filters = _filters(shape)
    if shape.sort == "position":
        order: tuple[Any, ...] = _manual_order()
    else:
        column = SORT_COLUMNS[shape.sort.lstrip("-")]
        descending = shape.sort.startswith("-")
        order = (column.desc(), Task.id.desc()) if descending else (column, Task.id)
    if shape.sort.lstrip("-") == "due":
        # Tasks without a due date last, both ways (PostgreSQL: ix_tasks_user_due{,_desc}).
        ordered = column.desc().nulls_last() if descending else column.asc().nulls_last()
        order = (ordered, order[1])
    # The cap is written into the SQL (not a bind parameter), so every plan knows it.
    cap = literal_column(str(COUNT_CAP + 1), Integer)
    if shape == ListShape("all", False, False, shape.sort, shape.checks_session, tags=1):
        # One tag and nothing else: its links are the matches (a tag and the tasks it is on
        # are the same user's), counted in ix_task_tags_tag_task without visiting a task.
        matches = _tagged(0).limit(cap).subquery()
    else:
        matches = select(Task.id).where(*_filters(shape, counting=True)).limit(cap).subquery()
    count = select(func.count().label("total")).select_from(matches)
    # The count as a subquery, not `count(*) OVER ()`: a window reads every matching row in
    # full before the first one is returned, while the subquery can count in the index
    # (often without visiting the table) and the page stops after `limit` rows.
    page = (
        select(*PUBLIC_COLUMNS, count.scalar_subquery().correlate(None).label("total"))
        .where(*filters, *([SESSION_IS_LIVE] if shape.checks_session else []))
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
    for position, tag in enumerate(dict.fromkeys(name_key(tag) for tag in query.tag)):
        parameters[f"tag_{position}"] = tag
    if query.due_after is not None:
        parameters["due_after"] = query.due_after
    if query.due_before is not None:
        parameters["due_before"] = query.due_before
    if query.overdue is not None:
        parameters["now_utc"] = utcnow()
    if query.series_id is not None:
        parameters["series_id"] = query.series_id
    for position, list_id in enumerate(dict.fromkeys(query.list_id)):
        parameters[f"list_{position}"] = list_id
    if query.parent_id is not None:
        parameters["parent_id"] = query.parent_id
    if query.assignee is not None:
        parameters["assignee_id"] = caller.user_id if query.assignee == "me" else query.assignee
    return parameters


def _shapes_for(caller: Caller, query: TaskQuery) -> ListShapes:
    return _list_shapes(
        ListShape(
            status=query.status,
            by_priority=query.priority is not None,
            by_search=bool(query.search),
            sort=query.sort,
            checks_session=caller.session_id is not None,
            tags=len({name_key(tag) for tag in query.tag}),
            due_after=query.due_after is not None,
            due_before=query.due_before is not None,
            has_due=query.has_due,
            overdue=query.overdue,
            by_series=query.series_id is not None,
            lists=len(set(query.list_id)),
            by_parent=query.parent_id is not None,
            top_level=bool(query.top_level),
            by_assignee=query.assignee is not None,
        )
    )


def page_and_count(*, caller: Caller, query: TaskQuery) -> tuple[ListShapes, dict[str, Any]]:
    """The page and count statements of a list request and their values, as `list_tasks` runs
    them (for `app.tasks.fast_reads`)."""
    return _shapes_for(caller, query), _list_parameters(caller, query)


def list_statements(*, caller: Caller, query: TaskQuery) -> tuple[AnySelect, ...]:
    """The page and count statements of a list request with their values bound (for EXPLAIN)."""
    parameters = _list_parameters(caller, query)
    shapes = _shapes_for(caller, query)
    return shapes.page.select.params(parameters), shapes.count.select.params(parameters)


Record = dict[str, Any]


@functools.cache
def _dated_statement(*, include_completed: bool, lists: int) -> Statement:
    """Every dated task the owner sees, by due instant: the list page's own filters (the
    visibility rule among them: the tasks of the lists the owner is a member of, and of the
    `lists` bound as `list_<n>` when the feed names some), so a feed shows what the list does."""
    shape = ListShape(
        lists=lists,
        status="all" if include_completed else "active",
        by_priority=False,
        by_search=False,
        sort="due",
        checks_session=False,
        has_due=True,
    )
    columns = (*PUBLIC_COLUMNS, Task.recurrence_anchor)
    return Statement(select(*columns).where(*_filters(shape)).order_by(Task.due_at, Task.id))


async def dated_tasks(
    *,
    connection: AsyncConnection,
    owner_id: uuid.UUID,
    include_completed: bool,
    list_ids: Sequence[uuid.UUID | str] | None = None,
) -> list[Record]:
    """Every dated task the owner can see (open ones, or all), earliest due first, with each
    recurring task's anchor: for the calendar feeds, which have no session to check. With
    `list_ids`, only the tasks of those lists (still only those the owner is a member of: a
    list left since shows nothing)."""
    wanted = [] if list_ids is None else list(dict.fromkeys(uuid.UUID(str(i)) for i in list_ids))
    statement = _dated_statement(include_completed=include_completed, lists=len(wanted))
    parameters = read_parameters(Caller(owner_id, None))
    parameters.update({f"list_{n}": list_id for n, list_id in enumerate(wanted)})
    return await fetch_all(connection, statement, parameters)


async def list_tasks(
    *, connection: AsyncConnection, caller: Caller, query: TaskQuery
) -> tuple[list[Record], int]:
    """One page of the caller's tasks and the number of matches before paging, up to
    COUNT_CAP + 1 (more than COUNT_CAP match), with the caller's session checked: one
    statement (three when the page is empty)."""
    parameters = _list_parameters(caller, query)
    shapes = _shapes_for(caller, query)
    rows = await fetch_all(connection, shapes.page, parameters)
    if rows:
        return rows, rows[0]["total"]
    await require_live_session(connection=connection, caller=caller)
    counted = await fetch_all(connection, shapes.count, parameters)
    return [], counted[0]["total"]
