"""Idempotency keys for `POST /api/tasks`: a retry returns the first response, creates nothing.

A key is claimed in its own committed transaction before the task is created, so every
instance sees it while the first request runs (409 `idempotency_in_progress`). The task and
the stored response are then committed together: a key is either still running, or done with
exactly the response of the one task it created. A request that fails releases its claim; one
that dies (a crash, a lost database) leaves a claim that a retry may take over after LEASE.
Each claim carries a random token, so a request that outlived its lease and lost the key finds
out when it stores its response, and rolls back its task.
"""

import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import and_, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from app.core.errors import responses
from app.core.models import utcnow
from app.sync.errors import IdempotencyInProgress, IdempotencyKeyReused
from app.sync.models import IdempotencyKey

logger = logging.getLogger(__name__)

KEY_LIFETIME = timedelta(hours=24)
# Longer than any request can run (statement and pool timeouts are seconds).
LEASE = timedelta(seconds=30)
REPLAYED_HEADER = "Idempotency-Replayed"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]{1,255}$",
        description="1-255 visible ASCII characters. A retry with the same key within 24 hours "
        "returns the first response and creates nothing.",
    ),
]


def creation_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` of a route that takes an Idempotency-Key: 409 while the first
    request runs; 422 is either FastAPI's validation error or `idempotency_key_reused`."""
    return responses(IdempotencyInProgress, IdempotencyKeyReused)


def fingerprint(body: dict[str, Any]) -> str:
    """The request body as the service understood it (defaults filled in), canonical JSON."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: str
    location: str | None
    etag: str | None

    def replay(self) -> Response:
        headers = {REPLAYED_HEADER: "true"}
        if self.location:
            headers["Location"] = self.location
        if self.etag:
            headers["ETag"] = self.etag
        return Response(self.body, self.status_code, headers=headers, media_type="application/json")


def _insert(connection: AsyncConnection) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(IdempotencyKey)


async def claim(
    *, connection: AsyncConnection, user_id: uuid.UUID, key: str, fingerprint: str
) -> str | StoredResponse:
    """Our claim token, or the stored response of an earlier request with this key."""
    owned = and_(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    for _ in range(3):  # the row may vanish (released, expired) between our two statements
        now = utcnow()
        token = secrets.token_hex(16)
        fresh = {"fingerprint": fingerprint, "claim": token, "claimed_at": now, "created_at": now}
        inserted = await connection.execute(
            _insert(connection)
            .values(user_id=user_id, key=key, **fresh)
            .on_conflict_do_nothing(index_elements=["user_id", "key"])
        )
        if inserted.rowcount == 1:
            return token
        row = (await connection.execute(select(IdempotencyKey).where(owned))).one_or_none()
        if row is None:
            continue
        stored = row
        if stored.created_at <= now - KEY_LIFETIME:  # expired, not cleaned up yet: start over
            expired = and_(owned, IdempotencyKey.created_at == stored.created_at)
            reset = {**fresh, "status_code": None, "body": None, "location": None, "etag": None}
            if (
                await connection.execute(update(IdempotencyKey).where(expired).values(reset))
            ).rowcount:
                return token
            continue
        if stored.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if stored.status_code is not None:
            assert stored.body is not None
            return StoredResponse(stored.status_code, stored.body, stored.location, stored.etag)
        if stored.claimed_at > now - LEASE:
            raise IdempotencyInProgress()
        # Abandoned by a request that died: take it over, unless someone else just did.
        abandoned = and_(
            owned, IdempotencyKey.claim == stored.claim, IdempotencyKey.status_code.is_(None)
        )
        taken = update(IdempotencyKey).where(abandoned).values(claim=token, claimed_at=now)
        if (await connection.execute(taken)).rowcount:
            return token
    raise IdempotencyInProgress()


async def complete(
    *, connection: AsyncConnection, user_id: uuid.UUID, key: str, token: str, response: Response
) -> None:
    """Store the response, in the transaction that made it. Raises if the claim was lost."""
    ours = and_(
        IdempotencyKey.user_id == user_id, IdempotencyKey.key == key, IdempotencyKey.claim == token
    )
    values = {
        "claim": None,
        "status_code": response.status_code,
        "body": bytes(response.body).decode(),
        "location": response.headers.get("location"),
        "etag": response.headers.get("etag"),
    }
    if not (await connection.execute(update(IdempotencyKey).where(ours).values(values))).rowcount:
        raise IdempotencyInProgress()


async def release(*, connection: AsyncConnection, user_id: uuid.UUID, key: str, token: str) -> None:
    ours = and_(
        IdempotencyKey.user_id == user_id,
        IdempotencyKey.key == key,
        IdempotencyKey.claim == token,
        IdempotencyKey.status_code.is_(None),
    )
    await connection.execute(delete(IdempotencyKey).where(ours))


async def run_idempotently(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    key: str | None,
    body: dict[str, Any],
    create: Callable[[], Awaitable[Response]],
) -> Response:
    """Run `create` once per (user, key, body) within KEY_LIFETIME; without a key, just run it."""
    if key is None:
        return await create()
    outcome = await claim(
        connection=connection, user_id=user_id, key=key, fingerprint=fingerprint(body)
    )
    await connection.commit()  # the claim (or nothing) is visible to every instance from here
    if isinstance(outcome, StoredResponse):
        return outcome.replay()
    try:
        response = await create()
        await complete(
            connection=connection, user_id=user_id, key=key, token=outcome, response=response
        )
    except BaseException:
        await _release_after_failure(connection, user_id, key, outcome)
        raise
    return response


async def _release_after_failure(
    connection: AsyncConnection, user_id: uuid.UUID, key: str, token: str
) -> None:
    """Undo the failed attempt and free the key for a retry (if the database lets us: else the
    claim's lease runs out)."""
    with suppress(Exception):
        await connection.rollback()
    try:
        await release(connection=connection, user_id=user_id, key=key, token=token)
        await connection.commit()
    except Exception:
        logger.warning("could not release an idempotency key; its lease will expire")
        with suppress(Exception):
            await connection.rollback()


EXPIRY_BATCH = 1000


async def delete_expired_keys(*, connection: AsyncConnection, batch: int = EXPIRY_BATCH) -> int:
    """Delete up to `batch` keys older than KEY_LIFETIME; returns how many."""
    cutoff = utcnow() - KEY_LIFETIME
    oldest = (
        select(IdempotencyKey.user_id, IdempotencyKey.key)
        .where(IdempotencyKey.created_at <= cutoff)
        .limit(batch)
    )
    statement = delete(IdempotencyKey).where(
        tuple_(IdempotencyKey.user_id, IdempotencyKey.key).in_(oldest),
        IdempotencyKey.created_at <= cutoff,
    )
    return (await connection.execute(statement)).rowcount
