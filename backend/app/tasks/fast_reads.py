"""The task list and one task on the fast path (`app.core.fast_reads`): the same statements as
the FastAPI routes (`listing.page_read`, `queries.GET_TASK`, the session checked inside them),
the same rows shaped as `TaskPublic` writes them, and the same headers. Whatever they do not
answer with a 200 (bad parameters, `If-None-Match`, a missing task, a dead session) goes on
to the FastAPI route."""

import re
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from app.accounts.fast_reads import access_token_caller, json_response, live_user
from app.accounts.sessions import Caller, read_parameters
from app.core.config import Settings
from app.core.fast_reads import FastRead, Reader, header
from app.tasks.conditions import etag
from app.tasks.fields import short_time
from app.tasks.listing import page_and_count
from app.tasks.pagination import set_paging_headers
from app.tasks.queries import GET_TASK
from app.tasks.schemas import TaskPublic, TaskQuery, task_query_from

Conversions = tuple[tuple[str, Callable[[Any], Any]], ...]
# The members of `TaskPublic`, in its order.
TASK_MEMBERS = tuple(TaskPublic.model_fields)
assert GET_TASK[True].keys == TASK_MEMBERS, "the task read selects TaskPublic's members"
_DEFAULT_PAGE = page_and_count(caller=Caller(uuid.uuid4(), None), query=TaskQuery())[0].page
assert _DEFAULT_PAGE.keys[:-1] == TASK_MEMBERS, "the page selects TaskPublic's members, then total"
DEFAULT_QUERY = TaskQuery()
# A task id as clients get it (lower-case, hyphenated); any other spelling goes to FastAPI.
CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def task_public(row: Any, conversions: Conversions) -> dict[str, Any]:
    """A row as `TaskPublic` writes it: its members in order (the statement's leading columns,
    converted by their types as `fetch_all` would), `due_time` as `HH:MM[:SS]` (priorities are
    `Priority`, a str enum; dates, instants and UUIDs encode alike)."""
    task = dict(zip(TASK_MEMBERS, row, strict=False))  # leaves out the list's `total`
    for key, process in conversions:
        task[key] = process(task[key])
    if task["due_time"] is not None:
        task["due_time"] = short_time(task["due_time"])
    return task


def _list_query(scope: Scope) -> TaskQuery | None:
    raw = scope["query_string"]
    if not raw:
        return DEFAULT_QUERY
    received = QueryParams(raw)
    try:
        query = task_query_from(received, received.getlist("tag") if "tag" in received else None)
    except ValidationError:
        return None
    # Naming lists asks whether the caller may see them (404): the route answers.
    if "list_id" in received:
        return None
    return query


def list_read(settings: Settings, *, bridge: bool) -> FastRead:
    """`GET /api/tasks`: one page, its total and the session check in one statement."""

    async def list_tasks(scope: Scope, reader: Reader) -> Response | None:
        caller = access_token_caller(scope, settings, bridge=bridge)
        if caller is None:
            return None
        query = _list_query(scope)
        if query is None:
            return None
        shapes, values = page_and_count(caller=caller, query=query)
        async with reader.connection() as connection:
            rows = await reader.fetch(connection, shapes.page, values)
            if rows:
                total = rows[0]["total"]
            else:
                # An empty page or a dead session: as the route does, check the session on its
                # own (a dead one: the route answers the 401), then count.
                if caller.session_id is None or not await live_user(reader, connection, caller):
                    return None
                total = (await reader.fetch(connection, shapes.count, values))[0]["total"]
        conversions = shapes.page.for_driver(reader.dialect).conversions
        response = json_response([task_public(row, conversions) for row in rows])
        set_paging_headers(
            response, request=Request(scope), query=query, total=total, returned=len(rows)
        )
        return response

    return FastRead("/api/tasks", list_tasks, path="/api/tasks")


def get_read(settings: Settings, *, bridge: bool) -> FastRead:
    """`GET /api/tasks/{task_id}`: the task and the session check in one statement."""
    statement = GET_TASK[True]

    async def get_task(scope: Scope, reader: Reader) -> Response | None:
        task_id = scope["path"].removeprefix("/api/tasks/")
        if not CANONICAL_ID.fullmatch(task_id) or header(scope, b"if-none-match") is not None:
            return None
        caller = access_token_caller(scope, settings, bridge=bridge)
        if caller is None:
            return None
        values = {**read_parameters(caller), "task_id": uuid.UUID(task_id)}
        async with reader.connection() as connection:
            rows = await reader.fetch(connection, statement, values)
        if not rows:  # not there, or a dead session: the route tells them apart
            return None
        task = task_public(rows[0], statement.for_driver(reader.dialect).conversions)
        response = json_response(task)
        response.headers["etag"] = etag(task["version"])
        return response

    return FastRead("/api/tasks/{task_id}", get_task, prefix="/api/tasks/")
