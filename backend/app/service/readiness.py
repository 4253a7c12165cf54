"""What `/api/health/ready` checks: the database and, when configured, the event broker, each
within READY_TIMEOUT_SECONDS, and that the worker is not draining (app.core.drain)."""

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Literal

import anyio

from app.core.database import Database, ping
from app.core.drain import Drain
from app.service.schemas import NotReadyCode
from app.sync.broker import RedisBroker

READY_TIMEOUT_SECONDS = 1.0

CheckResult = Literal["ok", "unavailable", "not_configured"]


@dataclass(frozen=True)
class Readiness:
    database: CheckResult
    broker: CheckResult
    draining: bool

    @property
    def ready(self) -> bool:
        return not self.draining and "unavailable" not in (self.database, self.broker)


async def _answers(check: Awaitable[None]) -> CheckResult:
    try:
        with anyio.fail_after(READY_TIMEOUT_SECONDS):
            await check
    except Exception:
        return "unavailable"
    return "ok"


async def check_readiness(
    *, database: Database, broker: RedisBroker | None, drain: Drain
) -> Readiness:
    """Both checks run at once: the probe answers within READY_TIMEOUT_SECONDS."""
    results: dict[str, CheckResult] = {"broker": "not_configured"}

    async def run(name: str, check: Awaitable[None]) -> None:
        results[name] = await _answers(check)

    async with anyio.create_task_group() as group:
        group.start_soon(run, "database", ping(database.reader))
        if broker is not None:
            group.start_soon(run, "broker", broker.ping())
    return Readiness(
        database=results["database"], broker=results["broker"], draining=drain.draining
    )


NOT_READY_REASONS: dict[NotReadyCode, str] = {
    "shutting_down": "The server is shutting down; send new requests elsewhere.",
    "database_unavailable": "The database did not answer within a second.",
    "broker_unavailable": "The event broker (Redis) did not answer within a second.",
}


def not_ready_code(readiness: Readiness) -> NotReadyCode:
    """Why the worker is not ready, most telling first."""
    if readiness.draining:
        return "shutting_down"
    if readiness.database == "unavailable":
        return "database_unavailable"
    return "broker_unavailable"
