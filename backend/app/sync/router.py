"""/api/tasks/sync (delta sync) and /api/events (live events, tickets)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials

from app.accounts.dependencies import TaskReader, bearer_scheme, current_reader
from app.accounts.errors import AUTH_ERRORS, Unauthorized
from app.accounts.sessions import Caller, require_live_session
from app.core.database import ConnectionDep, Database
from app.core.errors import DatabaseUnavailable, responses
from app.sync import service
from app.sync.cursors import decode_cursor
from app.sync.errors import CursorExpired, SyncIsReadOnly, TicketInvalid, TooManyStreams
from app.sync.hub import EventHub
from app.sync.schemas import EventTicket, SyncPage
from app.sync.stream import EventStreamResponse
from app.sync.tickets import issue_ticket, redeem_ticket

router = APIRouter(responses=responses(*AUTH_ERRORS, DatabaseUnavailable))

CURSOR_PATTERN = r"^\d{1,18}\.[0-9a-f]{8}(\.[0-9a-f]{32})?$"
CURSOR_HELP = "From an earlier answer (or an event's id); leave out to get every task."
DEFAULT_LIMIT = 500
MAX_LIMIT = 1000


@router.get(
    "/api/tasks/sync",
    tags=["tasks"],
    response_model=SyncPage,
    responses=responses(CursorExpired),
)
async def sync_tasks(
    caller: TaskReader,
    connection: ConnectionDep,
    cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description=CURSOR_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """The tasks created or changed and the ids deleted since `cursor`; follow `cursor` until
    `has_more` is false. 410 `cursor_expired`: start over without a cursor."""
    await require_live_session(connection=connection, caller=caller)
    try:
        decoded = None if cursor is None else decode_cursor(caller.user_id, cursor)
    except ValueError:  # another user's: as unknown as one never issued
        raise CursorExpired() from None
    result = await service.sync(
        connection=connection, user_id=caller.user_id, cursor=decoded, limit=limit
    )
    page = SyncPage(
        tasks=result.tasks,
        deleted=result.deleted,
        cursor=result.cursor,
        has_more=result.has_more,
        lists=result.lists or [],
        deleted_lists=result.deleted_lists or [],
    )
    # Validated once and serialised straight to JSON: FastAPI would convert the page's up to
    # 1,000 tasks to plain Python and encode them again (a third of a full sync's time).
    return Response(page.model_dump_json(), media_type="application/json")


@router.api_route(
    "/api/tasks/sync",
    methods=["POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def sync_other_methods() -> None:
    """Without this, `/api/tasks/{task_id}` would take PUT /api/tasks/sync for a task id."""
    raise SyncIsReadOnly()


@router.post("/api/events/ticket", tags=["events"], status_code=status.HTTP_201_CREATED)
async def create_event_ticket(caller: TaskReader, connection: ConnectionDep) -> EventTicket:
    """A ticket for `GET /api/events?ticket=` (for `EventSource`, which cannot send headers):
    valid 60 seconds, once, for you only."""
    await require_live_session(connection=connection, caller=caller)
    ticket, lifetime = await issue_ticket(
        connection=connection, user_id=caller.user_id, session_id=caller.session_id
    )
    return EventTicket(ticket=ticket, expires_in=lifetime)


async def stream_caller(
    request: Request,
    connection: ConnectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ticket: Annotated[str | None, Query(description="From `POST /api/events/ticket`.")] = None,
) -> Caller:
    """The bearer token, or else a ticket. Access tokens are never taken from the URL."""
    if credentials is not None:
        caller = await current_reader(request, connection, credentials)
    elif ticket is not None:
        holder = await redeem_ticket(connection=connection, ticket=ticket)
        caller = Caller(holder.user_id, holder.session_id)
        request.state.user_id = str(caller.user_id)
    else:
        raise Unauthorized()
    await require_live_session(connection=connection, caller=caller)
    return caller


@router.get(
    "/api/events",
    tags=["events"],
    status_code=status.HTTP_200_OK,
    response_class=EventStreamResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "Server-Sent Events: `task.created`, `task.updated` (data: the "
            "Task), `task.deleted` (data: `{id}`), `reminder` (data: the Task). Each `id:` "
            "is a sync cursor. A comment line at least every 15 s.",
        },
        **responses(TicketInvalid, CursorExpired, TooManyStreams),
    },
)
async def events(
    request: Request,
    caller: Annotated[Caller, Depends(stream_caller)],
    connection: ConnectionDep,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="Resume after this event (a sync cursor)."),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Resume after this cursor, for a client that cannot set "
            "`Last-Event-ID` (a new `EventSource`); the header wins when both are sent.",
        ),
    ] = None,
) -> EventStreamResponse:
    """Your task changes as they happen (Server-Sent Events). Authenticate with the bearer
    header or `?ticket=`. 410 `cursor_expired`: sync again, then reconnect without a cursor."""
    start = await service.resume_point(
        connection=connection, user_id=caller.user_id, last_event_id=last_event_id or cursor
    )
    hub: EventHub = request.app.state.events
    database: Database = request.app.state.database
    handle = hub.open(caller.user_id, caller.session_id)
    return EventStreamResponse(hub=hub, handle=handle, database=database, cursor=start)
