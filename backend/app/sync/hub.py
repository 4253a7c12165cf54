"""The event hub of one worker: its open streams, who has news, which sessions ended.

Streams are woken, never fed: a woken stream reads the change log itself from its own cursor,
so the hub keeps no events and a slow stream costs the hub nothing. News arrives three ways:

- from this worker's own writes (`announce`, after their commit);
- from other instances through the broker (Redis pub/sub, when EVENTS_BROKER_URL is set);
- from a periodic check of the counters of the users with open streams here (one indexed
  query): every NEWS_CHECK_SECONDS while no broker subscription is live (no broker, Redis down;
  also the other workers of this instance), every CHECK_SECONDS beside a live one, to catch
  what it lost.

Every CHECK_SECONDS the check also ends the streams whose session was logged out or expired,
whose personal access token was deleted, or whose Better Auth token was signed out, on every
instance, within CHECK_SECONDS plus one read. A stream whose credential expires ends then
(app.sync.stream).
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.accounts.models import AuthSession
from app.accounts.revocations import revoked_credentials
from app.accounts.sessions import Caller, Credential
from app.core.database import Database
from app.core.models import utcnow
from app.sync import changelog
from app.sync.broker import RedisBroker
from app.sync.errors import TooManyStreams
from app.sync.slots import Release, Slots, instance_slots

logger = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
NEWS_CHECK_SECONDS = 0.5
MAX_STREAMS_PER_USER = 10


@dataclass(eq=False)
class StreamHandle:
    user_id: uuid.UUID
    session_id: uuid.UUID | None
    credential: Credential = "access_token"
    # The personal token's id or the Better Auth token's deny-list key (see `Caller`).
    credential_id: str | None = None
    # When the credential stops being accepted: the stream ends then (app.sync.stream).
    expires_at: datetime | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False  # the session or credential is over: the stream must stop
    release: Release | None = None  # gives back the stream's place in the per-user limit

    def seconds_left(self) -> float:
        """Until the credential expires (infinite for one that does not)."""
        if self.expires_at is None:
            return float("inf")
        return (self.expires_at - utcnow()).total_seconds()

    def end(self) -> None:
        self.ended = True
        self.wake.set()


class EventHub:
    def __init__(
        self,
        database: Database,
        broker_url: str | None,
        *,
        max_streams_per_user: int = MAX_STREAMS_PER_USER,
        slots_dir: str | None = None,
        check_seconds: float = CHECK_SECONDS,
        news_check_seconds: float = NEWS_CHECK_SECONDS,
    ) -> None:
        self.database = database
        self.max_streams_per_user = max_streams_per_user
        # The limit holds per instance: its workers share these places (app.sync.slots).
        self.slots: Slots = instance_slots(slots_dir, max_streams_per_user)
        self.check_seconds = check_seconds
        self.news_check_seconds = news_check_seconds
        self.streams: dict[uuid.UUID, set[StreamHandle]] = {}
        self.broker = (
            RedisBroker(broker_url, on_news=self.wake_users, on_reconnect=self.wake_all)
            if broker_url
            else None
        )
        self._counters: dict[uuid.UUID, int] = {}
        # The server is shutting down (app.core.drain): streams end with a reconnection hint.
        self.draining = False
        self._checker: asyncio.Task[None] | None = None
        self._last_warning = 0.0

    # --- streams ------------------------------------------------------------------------------

    def open(self, caller: Caller) -> StreamHandle:
        """Register a stream; 429 past the per-user limit of this instance (all its workers)."""
        release = self.slots.acquire(caller.user_id)
        if release is None:
            raise TooManyStreams()
        handle = StreamHandle(
            caller.user_id,
            caller.session_id,
            caller.credential,
            caller.credential_id,
            caller.expires_at,
            release=release,
        )
        if self.draining:  # it ends at once, telling the client to come back elsewhere
            handle.end()
        self.streams.setdefault(caller.user_id, set()).add(handle)
        self._start()
        return handle

    def close(self, handle: StreamHandle) -> None:
        """Forget a stream and give back its place (idempotent)."""
        if handle.release is not None:
            handle.release()
        mine = self.streams.get(handle.user_id)
        if mine is None:
            return
        mine.discard(handle)
        if not mine:
            del self.streams[handle.user_id]
            self._counters.pop(handle.user_id, None)

    def drain(self) -> None:
        """End every stream here, now and from now on: their clients reconnect (SSE `retry:`),
        through the load balancer, to an instance that is not shutting down."""
        self.draining = True
        for handles in self.streams.values():
            for handle in handles:
                handle.end()

    def stream_count(self) -> int:
        return sum(len(handles) for handles in self.streams.values())

    # --- news ---------------------------------------------------------------------------------

    def announce(self, user_ids: set[uuid.UUID]) -> None:
        """These users' change logs grew (committed): wake their streams here and elsewhere."""
        self.wake_users(user_ids)
        if self.broker is not None:
            self.broker.publish(user_ids)

    def wake_users(self, user_ids: Iterable[uuid.UUID]) -> None:
        for user_id in user_ids:
            for handle in self.streams.get(user_id, ()):
                handle.wake.set()

    def wake_all(self) -> None:
        self.wake_users(list(self.streams))

    # --- the periodic check -------------------------------------------------------------------

    def _start(self) -> None:
        if self._checker is None or self._checker.done():
            self._checker = asyncio.get_running_loop().create_task(self._check_forever())
        if self.broker is not None:
            self.broker.start()

    async def _check_forever(self) -> None:
        last_full_check = 0.0
        while True:
            live_broker = self.broker is not None and self.broker.subscribed
            await asyncio.sleep(self.check_seconds if live_broker else self.news_check_seconds)
            if not self.streams:
                continue
            full = time.monotonic() - last_full_check >= self.check_seconds
            try:
                await self.check(sessions=full)
            except Exception as exc:  # the database is down or restarting: try again later
                self._warn("event hub check failed: %s", type(exc).__name__)
            else:
                if full:
                    last_full_check = time.monotonic()

    async def check(self, *, sessions: bool = True) -> None:
        """Wake the streams of users whose counter moved; end those of dead sessions, deleted
        personal tokens and signed-out Better Auth tokens."""
        user_ids = list(self.streams)
        open_now = [h for hs in self.streams.values() for h in hs] if sessions else []
        session_ids = {h.session_id for h in open_now if h.session_id is not None}
        token_ids = {h.credential_id for h in open_now if h.credential == "personal_token"}
        keys = {h.credential_id for h in open_now if h.credential == "better_auth"}
        async with self.database.admitted(), self.database.reader.connect() as connection:
            seen = await changelog.counters(connection=connection, user_ids=user_ids)
            dead: set[uuid.UUID] = set()
            if session_ids:
                statement = select(AuthSession.id).where(
                    AuthSession.id.in_(session_ids),
                    (AuthSession.revoked_at.is_not(None)) | (AuthSession.expires_at <= utcnow()),
                )
                dead = set((await connection.execute(statement)).scalars())
            revoked = await revoked_credentials(
                connection=connection, token_ids=token_ids, keys=keys
            )
        checked = set(user_ids)
        moved = [u for u, seq in seen.items() if self._counters.get(u) != seq]
        self._counters.update(seen)
        self.wake_users(moved)
        for handles in list(self.streams.values()):
            for handle in list(handles):
                # Only users this check asked about: streams opened meanwhile are not gone.
                gone = handle.user_id in checked and handle.user_id not in seen
                if handle.session_id in dead or handle.credential_id in revoked or gone:
                    handle.end()

    def _warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            logger.warning(message, *args)

    async def aclose(self) -> None:
        for handles in self.streams.values():
            for handle in handles:
                handle.end()
        if self._checker is not None:
            self._checker.cancel()
        if self.broker is not None:
            await self.broker.aclose()
