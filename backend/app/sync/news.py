""" "User U has news": noted by the change log during a write, announced once the write has
committed, so that a stream woken by the news finds the change when it reads the log.

A request's transaction commits before its response starts (the connection and session
dependencies end with the route), so `NewsMiddleware` announces what the request noted when the
response starts. A news item for a write that was rolled back only makes streams read the log
and find nothing. Code outside a request (the reminder loop) uses `collecting_news` and
announces after its own commit. Anything missed is found by the event hub's periodic check of
the counters, so a lost announcement delays an event but never loses it.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_pending: ContextVar[set[uuid.UUID] | None] = ContextVar("todo_pending_news", default=None)


def note_news(user_id: uuid.UUID) -> None:
    pending = _pending.get()
    if pending is not None:
        pending.add(user_id)


@contextmanager
def collecting_news() -> Iterator[set[uuid.UUID]]:
    """Collect the users noted inside the block (announce them after the commit)."""
    pending: set[uuid.UUID] = set()
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)


class NewsMiddleware:
    """Announces the users a request noted once its response starts (after its commit)."""

    def __init__(self, app: ASGIApp, *, announce: Callable[[set[uuid.UUID]], None]) -> None:
        self.app = app
        self.announce = announce

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        with collecting_news() as pending:

            async def send_and_announce(message: Message) -> None:
                if message["type"] == "http.response.start" and pending:
                    self.announce(set(pending))
                    pending.clear()
                await send(message)

            await self.app(scope, receive, send_and_announce)
            if pending:  # no response was sent (the client went away)
                self.announce(set(pending))
