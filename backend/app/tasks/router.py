"""/api/tasks: the signed-in user's tasks, and only theirs."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from app.accounts.dependencies import CurrentUser, TaskReader
from app.accounts.errors import AUTH_ERRORS
from app.core.database import ConnectionDep
from app.core.errors import BODY_ERRORS, DatabaseUnavailable, responses
from app.lists.errors import Forbidden, ListNotFound
from app.sync.idempotency import IdempotencyKeyHeader, creation_responses, run_idempotently
from app.tasks import service
from app.tasks.conditions import etag, if_match_versions, none_match
from app.tasks.errors import PreconditionFailed, TaskNotFound
from app.tasks.moves import UNCHANGED, Move
from app.tasks.pagination import set_paging_headers
from app.tasks.schemas import (
    TaskCreate,
    TaskMove,
    TaskPatch,
    TaskPublic,
    TaskQuery,
    TaskUpdate,
    task_query_from,
)

# A whole page in one call each way (the rows come as dicts; `total` is left out).
TASK_LIST = TypeAdapter(list[TaskPublic])

# FastAPI's own 422 entry, which it leaves out for a route with no parameters of its own.
VALIDATION_ERROR = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}


def _query_parameters() -> list[dict[str, Any]]:
    """OpenAPI's description of TaskQuery's fields as query parameters, as FastAPI writes it
    for `Annotated[TaskQuery, Query()]`."""
    schema = TaskQuery.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            # pydantic leaves the title out next to a `$ref`; FastAPI writes one.
            "schema": {"title": name.replace("_", " ").title(), **field},
        }
        for name, field in schema["properties"].items()
    ]


async def task_query(request: Request) -> TaskQuery:
    """The list's query parameters, validated in one pass (`task_query_from`), with FastAPI's
    422 for bad ones."""
    received = request.query_params
    tags = received.getlist("tag") if "tag" in received else None
    list_ids = received.getlist("list_id") if "list_id" in received else None
    try:
        return task_query_from(received, tags, list_ids)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in errors]
        ) from None


router = APIRouter(
    prefix="/api/tasks", tags=["tasks"], responses=responses(*AUTH_ERRORS, DatabaseUnavailable)
)

ETAG_HEADER = {
    "ETag": {
        "description": "The task's version, quoted (a strong ETag): changes on every write.",
        "required": True,
        "schema": {"type": "string", "example": '"3"'},
    }
}
IF_MATCH_DOC = (
    "Write only if the task's current ETag is one of these (`*`: any existing task); "
    "else 412 `precondition_failed`, with the current ETag, and nothing is written."
)
IfMatch = Annotated[str | None, Header(description=IF_MATCH_DOC, examples=['"3"'])]
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "`If-None-Match` matched: the copy the client has is current."}
}


def _task_response(task: dict[str, Any], response: Response) -> TaskPublic:
    response.headers["ETag"] = etag(task["version"])
    return TaskPublic.model_validate(task)


@router.get(
    "",
    response_model=list[TaskPublic],
    responses={422: VALIDATION_ERROR, **responses(ListNotFound)},
    openapi_extra={"parameters": _query_parameters()},
)
async def list_tasks(
    caller: TaskReader,
    # After the token: a request without a valid one is 401 whatever its parameters.
    query: Annotated[TaskQuery, Depends(task_query)],
    connection: ConnectionDep,
    request: Request,
) -> Response:
    """List tasks: filter, search, sort and page. `X-Total-Count` and `Link` describe the pages.

    The count is exact up to 10,000 matches; past that `X-Total-Count` is 10000, `Link` has no
    `last`, and `next` follows every full page."""
    tasks, total = await service.list_tasks(connection=connection, caller=caller, query=query)
    # Validated and serialised here in one pass each, instead of again by FastAPI.
    body = TASK_LIST.dump_json(TASK_LIST.validate_python(tasks))
    response = Response(body, media_type="application/json")
    set_paging_headers(response, request=request, query=query, total=total, returned=len(tasks))
    return response


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskPublic,
    responses={
        201: {"headers": ETAG_HEADER},
        **responses(ListNotFound, Forbidden, *BODY_ERRORS),
        **creation_responses(),  # sync hook: idempotency keys
    },
)
async def create_task(
    data: TaskCreate,
    user: CurrentUser,
    connection: ConnectionDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Create a task. With `Idempotency-Key`, a retry returns the first response."""

    async def create() -> Response:
        task = await service.create_task(connection=connection, owner_id=user.id, data=data)
        headers = {
            "Location": str(request.url_for("get_task", task_id=task["id"])),
            "ETag": etag(task["version"]),
        }
        body = TaskPublic.model_validate(task).model_dump_json()
        return Response(body, 201, headers=headers, media_type="application/json")

    # sync hook: idempotency keys (app.sync.idempotency)
    return await run_idempotently(
        connection=connection,
        user_id=user.id,
        key=idempotency_key,
        body=data.model_dump(mode="json"),
        create=create,
    )


@router.get(
    "/{task_id}",
    response_model=TaskPublic,
    responses={200: {"headers": ETAG_HEADER}, **NOT_MODIFIED, **responses(TaskNotFound)},
)
async def get_task(
    task_id: uuid.UUID,
    caller: TaskReader,
    connection: ConnectionDep,
    response: Response,
    if_none_match: Annotated[
        str | None,
        Header(description="The ETag of the copy the client has: 304 if it is current."),
    ] = None,
) -> TaskPublic | Response:
    """One task."""
    task = await service.get_task(connection=connection, caller=caller, task_id=task_id)
    if none_match(if_none_match, task["version"]):
        return Response(status_code=304, headers={"ETag": etag(task["version"])})
    return _task_response(task, response)


@router.put(
    "/{task_id}",
    responses={
        200: {"headers": ETAG_HEADER},
        **responses(TaskNotFound, ListNotFound, Forbidden, PreconditionFailed, *BODY_ERRORS),
    },
)
async def replace_task(
    task_id: uuid.UUID,
    data: TaskUpdate,
    user: CurrentUser,
    connection: ConnectionDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskPublic:
    """Replace a task: members left out go back to their defaults."""
    task = await service.replace_task(
        connection=connection,
        owner_id=user.id,
        task_id=task_id,
        data=data,
        if_match=if_match_versions(if_match),
    )
    return _task_response(task, response)


@router.patch(
    "/{task_id}",
    responses={
        200: {"headers": ETAG_HEADER},
        **responses(TaskNotFound, ListNotFound, Forbidden, PreconditionFailed, *BODY_ERRORS),
    },
)
async def update_task(
    task_id: uuid.UUID,
    data: TaskPatch,
    user: CurrentUser,
    connection: ConnectionDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskPublic:
    """Change only the members sent, e.g. `{"completed": true}`. Completing a recurring task
    keeps a completed copy of the occurrence and answers with the task moved to its next one."""
    task = await service.patch_task(
        connection=connection,
        owner_id=user.id,
        task_id=task_id,
        data=data,
        if_match=if_match_versions(if_match),
    )
    return _task_response(task, response)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(TaskNotFound, Forbidden, PreconditionFailed),
)
async def delete_task(
    task_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep, if_match: IfMatch = None
) -> None:
    """Delete a task and its subtasks. The completed copies of a recurring task stay."""
    await service.delete_task(
        connection=connection,
        owner_id=user.id,
        task_id=task_id,
        if_match=if_match_versions(if_match),
    )


@router.post(
    "/{task_id}/move",
    responses={
        200: {"headers": ETAG_HEADER},
        **responses(TaskNotFound, ListNotFound, Forbidden, PreconditionFailed, *BODY_ERRORS),
    },
)
async def move_task(
    task_id: uuid.UUID,
    data: TaskMove,
    user: CurrentUser,
    connection: ConnectionDep,
    response: Response,
    if_match: IfMatch = None,
) -> TaskPublic:
    """Move a task with its subtasks: to another list, under another parent (null: the top
    level), just before or after a sibling (neither: the end). Only the moved task is written
    (and, on a list change, its subtasks' `list_id`). 422 `invalid_move` for an anchor that is
    not a sibling, both anchors, a move under its own subtree or past 4 levels."""
    move = Move(
        list_id=data.list_id,
        parent_id=data.parent_id if "parent_id" in data.model_fields_set else UNCHANGED,
        before_id=data.before_id,
        after_id=data.after_id,
    )
    task = await service.move_task(
        connection=connection,
        user_id=user.id,
        task_id=task_id,
        move=move,
        if_match=if_match_versions(if_match),
    )
    return _task_response(task, response)
