"""One `GET /api/events` stream: replay from the log after the client's cursor, then live.

The stream holds no database connection while it waits: it borrows one per read, through the
same admission gate as requests. It keeps no queue either: when woken it reads the log from its
own cursor, at most READ_BATCH changes at a time, and writes each event before reading more. A
client that stops reading makes the write wait (the server's flow control); after SEND_TIMEOUT
the stream is closed. So a stream's memory is bounded by one batch, whatever the client does.
"""

import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from app.core.config import Settings
from app.core.database import Database
from app.sync.hub import EventHub, StreamHandle
from app.sync.service import events_after

logger = logging.getLogger(__name__)

READ_BATCH = 100
# The heartbeat (comment lines keep proxies from closing an idle stream) and the send timeout
# (a client that has taken nothing for this long is disconnected) are settings:
# EVENTS_HEARTBEAT_SECONDS, EVENTS_SEND_TIMEOUT_SECONDS.
# Re-read the log at least this often even without news (the hub's check also wakes us).
RECHECK_SECONDS = 30
# After a failed read (the database is restarting), wait this long before the next one.
RETRY_SECONDS = 2
# How long a stream may take to finish its current event when the server shuts down.
SHUTDOWN_GRACE_SECONDS = 1
# A draining server's streams end with `retry:` (milliseconds) in this range: clients come
# back spread out rather than all at once, to the instances still serving.
DRAIN_RETRY_MS = (1000, 5000)

_last_warning = 0.0


async def _events(
    hub: EventHub, database: Database, handle: StreamHandle, cursor: int, shutdown: anyio.Event
) -> AsyncIterator[ServerSentEvent]:
    # Something at once: clients and proxies see the stream is open (and HEAD ends here).
    yield ServerSentEvent(comment="connected")
    while not handle.ended and not shutdown.is_set() and handle.seconds_left() > 0:
        handle.wake.clear()
        try:
            async with database.admitted(), database.reader.connect() as connection:
                batch = await events_after(
                    connection=connection, user_id=handle.user_id, after=cursor, limit=READ_BATCH
                )
        except Exception as exc:  # the database is down or restarting: keep the stream, retry
            _warn("event stream read failed: %s", type(exc).__name__)
            await _wait(handle, shutdown, RETRY_SECONDS)
            continue
        for event in batch.events:
            yield ServerSentEvent(event.data, event=event.name, id=event.id)
        cursor = batch.read_to
        if not batch.full:  # else more are waiting: read on
            await _wait(handle, shutdown, RECHECK_SECONDS)
    if hub.draining:
        retry = random.randint(*DRAIN_RETRY_MS)
        yield ServerSentEvent(comment="the server is shutting down: reconnect", retry=retry)


async def _wait(handle: StreamHandle, shutdown: anyio.Event, seconds: float) -> None:
    """Until news for this stream, its end, the server's shutdown, its credential's expiry, or
    `seconds`."""
    with anyio.move_on_after(max(0.0, min(seconds, handle.seconds_left()))):
        async with anyio.create_task_group() as group:

            async def stop_on(wait: Callable[[], Any]) -> None:
                await wait()
                group.cancel_scope.cancel()

            group.start_soon(stop_on, handle.wake.wait)
            group.start_soon(stop_on, shutdown.wait)


def _warn(message: str, *args: object) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 30:
        _last_warning = now
        logger.warning(message, *args)


class EventStreamResponse(EventSourceResponse):
    """sse-starlette's response, which always gives its stream back to the hub (also when the
    body never starts: HEAD, a client gone at once, the server shutting down)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        *,
        hub: EventHub,
        handle: StreamHandle,
        database: Database,
        cursor: int,
        settings: Settings,
    ):
        shutdown = anyio.Event()
        super().__init__(
            _events(hub, database, handle, cursor, shutdown),
            ping=settings.events_heartbeat_seconds,
            send_timeout=settings.events_send_timeout_seconds,
            shutdown_event=shutdown,
            shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
            headers={"Cache-Control": "no-store"},
        )
        self._hub, self._handle = hub, handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (TimeoutError, OSError):
            pass  # the client went away or stopped reading: nothing to answer
        finally:
            self._hub.close(self._handle)
            aclose: Callable[[], Awaitable[None]] | None = getattr(
                self.body_iterator, "aclose", None
            )
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
