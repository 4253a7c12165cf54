"""Fan-out between instances: Redis pub/sub saying "these users have news", nothing more.

The events themselves are always read from the change log, so a message lost here (Redis down,
restarting, a full queue) only delays an event until the hub's periodic check. Publishing never
makes a request wait: ids go into a bounded queue that one task sends. When the subscription
comes back after an outage, every local stream is woken to catch up from the log.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable

import redis.asyncio as redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CHANNEL = "todo-api:task-news"
QUEUE_LIMIT = 10_000
BATCH_LIMIT = 500  # user ids per message
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)
FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class RedisBroker:
    def __init__(
        self,
        url: str,
        *,
        on_news: Callable[[Iterable[uuid.UUID]], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        self.url = url
        self.on_news = on_news
        self.on_reconnect = on_reconnect
        self._queue: asyncio.Queue[uuid.UUID] = asyncio.Queue(QUEUE_LIMIT)
        self._tasks: list[asyncio.Task[None]] = []
        self._client: redis.Redis | None = None
        self._probe: redis.Redis | None = None  # the readiness probe's own connection
        self._last_warning = 0.0
        self.subscribed = False  # the subscription is live: news from elsewhere arrives

    def _connect(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.url,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=10,
            retry_on_timeout=False,
        )

    def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._publish_forever()), loop.create_task(self._listen())]

    def publish(self, user_ids: Iterable[uuid.UUID]) -> None:
        """Queue news for the other instances; never blocks, drops when the queue is full."""
        self.start()
        for user_id in user_ids:
            try:
                self._queue.put_nowait(user_id)
            except asyncio.QueueFull:
                self._warn("event broker queue full: news dropped (the periodic check covers it)")
                return

    async def _publish_forever(self) -> None:
        while True:
            batch = {await self._queue.get()}
            while not self._queue.empty() and len(batch) < BATCH_LIMIT:
                batch.add(self._queue.get_nowait())
            try:
                if self._client is None:
                    self._client = self._connect()
                await self._client.publish(CHANNEL, " ".join(u.hex for u in batch))
            except FAILURES as exc:
                self._warn("event broker publish failed: %s", type(exc).__name__)
                await self._drop_client()

    async def _listen(self) -> None:
        failures = 0
        while True:
            client = self._connect()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                self.subscribed = True
                if failures:
                    logger.info("event broker subscription restored")
                    self.on_reconnect()  # catch up on whatever was said while we were away
                failures = 0
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None and message.get("type") == "message":
                        self.on_news(_user_ids(message["data"]))
            except FAILURES as exc:
                self._warn("event broker subscription lost: %s", type(exc).__name__)
                failures += 1
            finally:
                self.subscribed = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    async def ping(self) -> None:
        """One round trip to Redis (the readiness probe); raises when it does not answer."""
        if self._probe is None:
            self._probe = self._connect()
        await self._probe.ping()

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    def _warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            logger.warning(message, *args)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self._drop_client()
        probe, self._probe = self._probe, None
        if probe is not None:
            with contextlib.suppress(Exception):
                await probe.aclose()


def _user_ids(data: bytes | str) -> list[uuid.UUID]:
    text = data.decode() if isinstance(data, bytes) else data
    ids = []
    for part in text.split():
        with contextlib.suppress(ValueError):
            ids.append(uuid.UUID(hex=part))
    return ids
