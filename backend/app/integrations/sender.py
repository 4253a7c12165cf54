"""The webhook sender: a loop in every worker of every instance that claims due deliveries
(`queue.claim`) and sends them concurrently, up to WEBHOOK_CONCURRENCY at once.

One slow receiver cannot hold up the others: each delivery is its own task, the loop claims
more as soon as a slot is free (not when a whole batch is done), and an endpoint never holds
more than a quarter of the slots, so its backlog waits while other endpoints' deliveries go.
A receiver that does not answer is cut off after WEBHOOK_TIMEOUT_SECONDS.
"""

import asyncio
import logging
import uuid
from collections import Counter
from functools import partial

import httpx

from app.core.background import PeriodicJob
from app.core.config import Settings
from app.core.database import Database
from app.integrations import queue
from app.integrations.delivery import Claimed, Result, attempt, sender_client
from app.integrations.guard import Guard

logger = logging.getLogger("app.webhooks")


class WebhookSender:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        guard: Guard,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.database = database
        self.guard = guard
        self.timeout = settings.webhook_timeout_seconds
        self.poll = settings.webhook_poll_seconds
        self.lease = max(settings.webhook_lease_seconds, self.timeout + 5)
        self.backoff_base = settings.webhook_backoff_base_seconds
        self.concurrency = settings.webhook_concurrency
        self.per_endpoint = max(1, self.concurrency // 4)
        self.client = client or sender_client(self.concurrency, self.timeout)
        self._in_flight: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._by_endpoint: Counter[uuid.UUID] = Counter()
        self._wake = asyncio.Event()
        self._open: _Batch | None = None  # the outcomes waiting to be recorded
        self._flushing: asyncio.Task[None] | None = None
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._keep_sending(), name="webhook sender")

    async def stop(self) -> None:
        """Stop at once: deliveries in flight are dropped and sent again after their lease."""
        tasks = [*self._in_flight.values(), *([self._loop] if self._loop else [])]
        if self._flushing is not None:
            tasks.append(self._flushing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop = None
        await self.client.aclose()

    async def run_once(self) -> int:
        """Claim what is due now and send it, waiting for every attempt (for tests and tools)."""
        started = await self._claim_and_start()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        return started

    async def _keep_sending(self) -> None:
        while True:
            try:
                full = await self._claim_and_start()
            except Exception as exc:
                logger.warning("webhook sender: claiming failed (%s)", type(exc).__name__)
                full = False
            if full:
                # More are due: claim again once a slot is free.
                self._wake.clear()
                if len(self._in_flight) >= self.concurrency:
                    await self._wake.wait()
                continue
            self._wake.clear()
            try:
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _claim_and_start(self) -> int:
        """Claim as many due deliveries as there are free slots and start sending them;
        returns how many were claimed if that filled every free slot asked for, else 0."""
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        busy = [endpoint for endpoint, n in self._by_endpoint.items() if n >= self.per_endpoint]
        async with self.database.admitted(), self.database.reader.connect() as connection:
            if not await queue.any_due(connection=connection):
                return 0
        async with self.database.admitted(), self.database.engine.begin() as connection:
            claimed = await queue.claim(
                connection=connection,
                limit=free,
                lease_seconds=self.lease,
                skip_webhooks=busy,
            )
        for delivery in claimed:
            self._by_endpoint[delivery.webhook_id] += 1
            task = asyncio.create_task(self._send(delivery), name=f"webhook {delivery.id}")
            self._in_flight[delivery.id] = task
        return len(claimed) if len(claimed) == free else 0

    async def _send(self, claimed: Claimed) -> None:
        try:
            result = await attempt(self.client, self.guard, claimed, self.timeout)
            await self._recorded(claimed, result)
        finally:
            self._in_flight.pop(claimed.id, None)
            self._by_endpoint[claimed.webhook_id] -= 1
            if self._by_endpoint[claimed.webhook_id] <= 0:
                del self._by_endpoint[claimed.webhook_id]
            self._wake.set()

    async def _recorded(self, claimed: Claimed, result: Result) -> None:
        """Until the outcome is recorded. Outcomes are recorded in batches, one transaction
        each, one batch after the other: those that end while a batch is being written join
        the next one (under load, one commit for many attempts). A delivery's slot is free
        once its batch is written, or failed to be: then its lease runs out and it is sent
        again."""
        if self._open is None:
            batch = _Batch()
            self._open = batch
            self._flushing = asyncio.create_task(self._flush(batch, self._flushing))
        self._open.outcomes.append((claimed, result))
        await asyncio.shield(self._open.written)

    async def _flush(self, batch: "_Batch", previous: asyncio.Task[None] | None) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            if self._open is batch:
                self._open = None  # from here on, outcomes go to the next batch
            async with self.database.admitted(), self.database.engine.begin() as connection:
                await queue.record(
                    connection=connection,
                    outcomes=batch.outcomes,
                    backoff_base=self.backoff_base,
                )
        except Exception as exc:
            logger.warning(
                "webhooks: recording %d outcomes failed (%s)",
                len(batch.outcomes),
                type(exc).__name__,
            )
        finally:
            if self._open is batch:
                self._open = None
            if not batch.written.done():
                batch.written.set_result(None)


class _Batch:
    def __init__(self) -> None:
        self.outcomes: list[tuple[Claimed, Result]] = []
        self.written: asyncio.Future[None] = asyncio.get_running_loop().create_future()


async def prune_delivery_log(database: Database, size: int = 1000) -> int:
    done = 0
    for _ in range(10):
        async with database.admitted(), database.engine.begin() as connection:
            count = await queue.prune_deliveries(connection=connection, batch=size)
        done += count
        if count < size:
            break
    return done


def integration_jobs(database: Database) -> list[PeriodicJob]:
    return [
        PeriodicJob("prune the webhook delivery log", 3600.0, partial(prune_delivery_log, database))
    ]
