"""A delta sync on the fast path (`app.core.fast_reads`): `GET /api/tasks/sync?cursor=` is what
every client sends whenever it wakes up or an event arrives, so it is a hot read too. The same
statement as the route's (`service.DELTA_PAGE`, with the session checked in it), the page made
by the same function, the tasks shaped as the list shapes them. Whatever else (no cursor or a
full sync's, another user's or an expired one, odd parameters, a dead session) goes on to the
FastAPI route."""

import re
from typing import Any

from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import Scope

from app.accounts.fast_reads import access_token_caller, json_response
from app.accounts.sessions import read_parameters
from app.core.config import Settings
from app.core.fast_reads import FastRead, Reader
from app.sync.cursors import decode_cursor
from app.sync.errors import CursorExpired
from app.sync.router import DEFAULT_LIMIT, MAX_LIMIT
from app.sync.service import DELTA_PAGE, delta_from_rows
from app.tasks.fast_reads import TASK_MEMBERS, task_public

# A limit as clients write it (within the route's 1-MAX_LIMIT); any other spelling goes to
# FastAPI.
PLAIN_LIMIT = re.compile(r"[1-9][0-9]*")


def _delta_request(scope: Scope) -> tuple[str, int] | None:
    """The cursor and limit of a plain delta request: `cursor` once, `limit` at most once,
    nothing else."""
    received = QueryParams(scope["query_string"])
    if not received.keys() <= {"cursor", "limit"} or len(received.multi_items()) > len(received):
        return None
    cursor = received.get("cursor")
    if cursor is None:  # a full sync
        return None
    raw_limit = received.get("limit")
    if raw_limit is None:
        return cursor, DEFAULT_LIMIT
    if (
        not PLAIN_LIMIT.fullmatch(raw_limit)
        or len(raw_limit) > len(str(MAX_LIMIT))
        or int(raw_limit) > MAX_LIMIT
    ):
        return None
    return cursor, int(raw_limit)


def delta_sync_read(settings: Settings, *, bridge: bool) -> FastRead:
    """`GET /api/tasks/sync?cursor=`: the session, the counter, the changes and their tasks in
    one statement."""
    statement = DELTA_PAGE[True]

    async def delta_sync(scope: Scope, reader: Reader) -> Response | None:
        request = _delta_request(scope)
        if request is None:
            return None
        caller = access_token_caller(scope, settings, bridge=bridge)
        if caller is None or caller.session_id is None:
            return None
        text, limit = request
        try:
            cursor = decode_cursor(caller.user_id, text)
        except ValueError:  # malformed (422) or another user's (410)
            return None
        if cursor.after_task is not None:  # the middle of a full sync
            return None
        values = {**read_parameters(caller), "after": cursor.seq, "limit": limit + 1}
        async with reader.connection() as connection:
            rows = await reader.fetch(connection, statement, values)
        if not rows:  # a dead session (or a deleted user): the route answers
            return None
        conversions = _task_conversions(statement.for_driver(reader.dialect).conversions)
        try:
            page = delta_from_rows(
                caller.user_id, cursor.seq, limit, rows, lambda row: task_public(row, conversions)
            )
        except CursorExpired:
            return None
        if page.changed_lists:  # lists to read: the route answers
            return None
        return json_response(
            {
                "tasks": page.tasks,
                "deleted": page.deleted,
                "cursor": page.cursor,
                "has_more": page.has_more,
                "lists": [],
                "deleted_lists": [],
            }
        )

    return FastRead("/api/tasks/sync", delta_sync, path="/api/tasks/sync")


def _task_conversions(conversions: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    return tuple((key, process) for key, process in conversions if key in TASK_MEMBERS)
