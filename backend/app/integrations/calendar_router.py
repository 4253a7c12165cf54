"""/api/calendar-feeds: manage calendar feeds; /api/calendar/{token}.ics: the feeds themselves."""

import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Request, Response, status

from app.accounts.dependencies import CredentialManager
from app.accounts.errors import AUTH_ERRORS, PersonalTokenForbidden
from app.core.database import ConnectionDep
from app.core.errors import BODY_ERRORS, DatabaseUnavailable, responses
from app.integrations import calendar_feeds
from app.integrations.calendar_errors import CalendarFeedNotFound
from app.integrations.calendar_ics import feed_etag, modified_since, render_feed
from app.integrations.calendar_schemas import (
    CalendarFeedCreate,
    CalendarFeedCreated,
    CalendarFeedPublic,
)
from app.lists.errors import ListNotFound
from app.tasks.listing import dated_tasks

router = APIRouter(tags=["calendar"], responses=responses(DatabaseUnavailable))

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MANAGEMENT_ERRORS = (*AUTH_ERRORS, PersonalTokenForbidden)
FEED_EXAMPLE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Todo API//Calendar feed//EN\r\n"
    "X-WR-CALNAME:Tasks\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n…\r\nBEGIN:VEVENT\r\n"
    "SUMMARY:Buy milk\r\nDTSTART;VALUE=DATE:20261208\r\nDTEND;VALUE=DATE:20261209\r\n"
    "UID:0b9c…\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@router.post(
    "/api/calendar-feeds",
    status_code=status.HTTP_201_CREATED,
    responses=responses(*MANAGEMENT_ERRORS, ListNotFound, *BODY_ERRORS),
)
async def create_calendar_feed(
    data: CalendarFeedCreate,
    user: CredentialManager,
    connection: ConnectionDep,
    request: Request,
    response: Response,
) -> CalendarFeedCreated:
    """Create a calendar feed of your dated tasks. Its URL is in this response only: the token
    in it is stored as a hash. Subscribe to it in a calendar app (`webcal_url` opens one)."""
    response.headers.update(NO_STORE)
    feed = await calendar_feeds.create_feed(
        connection=connection,
        owner_id=user.id,
        data=data,
        origin=request.app.state.settings.public_origin,
    )
    return CalendarFeedCreated.model_validate(feed)


@router.get("/api/calendar-feeds", responses=responses(*MANAGEMENT_ERRORS))
async def list_calendar_feeds(
    user: CredentialManager, connection: ConnectionDep
) -> list[CalendarFeedPublic]:
    """Your calendar feeds, newest first (never their URLs)."""
    feeds = await calendar_feeds.list_feeds(connection=connection, owner_id=user.id)
    return [CalendarFeedPublic.model_validate(feed) for feed in feeds]


@router.delete(
    "/api/calendar-feeds/{feed_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*MANAGEMENT_ERRORS, CalendarFeedNotFound),
)
async def delete_calendar_feed(
    feed_id: uuid.UUID, user: CredentialManager, connection: ConnectionDep
) -> None:
    """Revoke a calendar feed: its URL answers 404 from the next request on."""
    await calendar_feeds.delete_feed(connection=connection, owner_id=user.id, feed_id=feed_id)


@router.get(
    calendar_feeds.FEED_PATH,
    response_class=Response,
    responses={
        200: {
            "description": "The feed (RFC 5545), with a strong `ETag`.",
            "content": {"text/calendar": {"schema": {"type": "string"}, "example": FEED_EXAMPLE}},
            "headers": {
                "ETag": {"description": "The content's tag.", "schema": {"type": "string"}}
            },
        },
        304: {"description": "`If-None-Match` names the current `ETag`: the copy is current."},
        **responses(CalendarFeedNotFound),
    },
)
async def calendar_feed(
    token: str,
    connection: ConnectionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A calendar feed (no other authentication: the URL's token is the credential). One
    event per dated task: all-day on its date, or an hour from `due_at` in its zone."""
    feed = await calendar_feeds.feed_for_token(connection=connection, token=token)
    tasks = await dated_tasks(
        connection=connection,
        owner_id=feed["user_id"],
        include_completed=feed["include_completed"],
        list_ids=feed["list_ids"],
    )
    creators = {task["user_id"] for task in tasks if task["time_zone"] is None}
    zones = await calendar_feeds.time_zones(connection=connection, user_ids=creators)
    # Rendering a large feed is CPU work: off the event loop.
    content = await anyio.to_thread.run_sync(
        lambda: render_feed(name=feed["name"], tasks=tasks, zones=zones)
    )
    etag = feed_etag(content)
    # Clients revalidate with the ETag; shared caches must not keep a feed (its URL is a secret).
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if not modified_since(etag, if_none_match):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content, media_type="text/calendar; charset=utf-8", headers=headers)
