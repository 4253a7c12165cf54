"""/api/lists: the caller's lists, in their own sidebar order."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from app.accounts.dependencies import CurrentUser
from app.accounts.errors import AUTH_ERRORS
from app.core.database import ConnectionDep
from app.core.errors import BODY_ERRORS, AppError, DatabaseUnavailable, responses
from app.lists import service
from app.lists.errors import (
    Forbidden,
    InboxProtected,
    LimitReached,
    ListNotFound,
    ListPreconditionFailed,
)
from app.lists.schemas import ListCreate, ListMove, ListPatch, ListPublic
from app.tasks.conditions import etag, if_match_versions, none_match

router = APIRouter(
    prefix="/api/lists", tags=["lists"], responses=responses(*AUTH_ERRORS, DatabaseUnavailable)
)

ETAG_HEADER = {
    "ETag": {
        "description": "The list's version, quoted (a strong ETag): changes on any change to it.",
        "required": True,
        "schema": {"type": "string", "example": '"2"'},
    }
}
IfMatch = Annotated[
    str | None,
    Header(
        description="Write only if the list's current ETag is one of these (`*`: any); else "
        "412 `precondition_failed` and nothing is written.",
        examples=['"2"'],
    ),
]


def _documented(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """`responses(...)`, where a 422 is either FastAPI's validation error or one of the 422
    domain errors (`inbox_protected`, `limit_reached`)."""
    declared = responses(*errors)
    coded = [e for e in errors if e.status_code == 422]
    if coded:
        described = "; ".join(f"`{e.code}`: {e.detail}" for e in coded)
        declared[422] = {
            "description": f"Validation Error; or {described}",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/HTTPValidationError"},
                            {"$ref": "#/components/schemas/ErrorBody"},
                        ]
                    }
                }
            },
        }
    return declared


def _with_etag(found: dict[str, Any], response: Response) -> ListPublic:
    response.headers["ETag"] = etag(found["version"])
    return ListPublic.model_validate(found)


@router.get("", response_model=list[ListPublic])
async def list_lists(
    user: CurrentUser,
    connection: ConnectionDep,
    archived: Annotated[
        str,
        Query(
            pattern="^(false|true|all)$",
            description="`false` (default): lists in use; `true`: archived ones; `all`: both.",
        ),
    ] = "false",
) -> list[dict[str, Any]]:
    """The caller's lists in their sidebar order, the Inbox first."""
    return await service.list_lists(connection=connection, user_id=user.id, archived=archived)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ListPublic,
    responses={201: {"headers": ETAG_HEADER}, **_documented(LimitReached, *BODY_ERRORS)},
)
async def create_list(
    data: ListCreate, user: CurrentUser, connection: ConnectionDep, request: Request
) -> Response:
    """Create a list, owned by the caller, at the end of their sidebar (at most 500 owned)."""
    created = await service.create_list(connection=connection, user_id=user.id, data=data)
    headers = {
        "Location": str(request.url_for("get_list", list_id=created["id"])),
        "ETag": etag(created["version"]),
    }
    body = ListPublic.model_validate(created).model_dump_json()
    return Response(body, 201, headers=headers, media_type="application/json")


@router.get(
    "/{list_id}",
    response_model=ListPublic,
    responses={
        200: {"headers": ETAG_HEADER},
        304: {"description": "`If-None-Match` matched: the client's copy is current."},
        **responses(ListNotFound),
    },
)
async def get_list(
    list_id: uuid.UUID,
    user: CurrentUser,
    connection: ConnectionDep,
    response: Response,
    if_none_match: Annotated[
        str | None, Header(description="The ETag of the client's copy: 304 if it is current.")
    ] = None,
) -> ListPublic | Response:
    """One list."""
    found = await service.get_list(connection=connection, user_id=user.id, list_id=list_id)
    if none_match(if_none_match, found["version"]):
        return Response(status_code=304, headers={"ETag": etag(found["version"])})
    return _with_etag(found, response)


@router.patch(
    "/{list_id}",
    response_model=ListPublic,
    responses={
        200: {"headers": ETAG_HEADER},
        **_documented(
            ListNotFound, Forbidden, ListPreconditionFailed, InboxProtected, *BODY_ERRORS
        ),
    },
)
async def update_list(
    list_id: uuid.UUID,
    data: ListPatch,
    user: CurrentUser,
    connection: ConnectionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ListPublic:
    """Rename, recolour or (un)archive a list (owner). The Inbox keeps its name and place."""
    updated = await service.update_list(
        connection=connection,
        user_id=user.id,
        list_id=list_id,
        data=data,
        if_match=if_match_versions(if_match),
    )
    return _with_etag(updated, response)


@router.delete(
    "/{list_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_documented(ListNotFound, Forbidden, ListPreconditionFailed, InboxProtected),
)
async def delete_list(
    list_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep, if_match: IfMatch = None
) -> None:
    """Delete a list and every task in it (owner). The Inbox cannot be deleted."""
    await service.delete_list(
        connection=connection,
        user_id=user.id,
        list_id=list_id,
        if_match=if_match_versions(if_match),
    )


@router.post(
    "/{list_id}/move",
    response_model=list[ListPublic],
    responses=_documented(ListNotFound, InboxProtected, *BODY_ERRORS),
)
async def move_list(
    list_id: uuid.UUID, data: ListMove, user: CurrentUser, connection: ConnectionDep
) -> list[dict[str, Any]]:
    """Move a list in the caller's own sidebar, just before or after another of their lists;
    answers the sidebar (`GET /api/lists`) in its new order. Nobody else's order changes."""
    return await service.move_list(
        connection=connection, user_id=user.id, list_id=list_id, data=data
    )
