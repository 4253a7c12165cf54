"""The senders' side of the outbox: claim due deliveries, record how an attempt went.

A claim is `SELECT ... FOR UPDATE SKIP LOCKED` on the due rows (PostgreSQL: senders in other
workers and instances skip the rows one of them is claiming, instead of queueing behind it),
then, in the same short transaction, `next_attempt_at` moved to the end of a lease and `lease`
set to this claim's token. The rows are not locked while they are sent: the lease keeps other
senders away, and a sender that dies mid-send (kill -9) simply lets the lease run out, after
which the delivery is due again and another sender retries it, with the same id. The outcome
is recorded only while the claim still holds (`lease` still this token), so a sender that
outlived its lease cannot overwrite what the next one did. On SQLite (one instance) the same
statements run without SKIP LOCKED, which SQLite's database-wide write lock makes unneeded.
"""

import random
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.models import utcnow
from app.integrations.delivery import Claimed, Result
from app.integrations.models import Webhook, WebhookDelivery

# The waits after each failed attempt, in units of WEBHOOK_BACKOFF_BASE_SECONDS (5 s): 5 s,
# 5 min, 30 min, 2 h, 5 h, then 10 h six times, about 2.8 days in all; then it has failed.
BACKOFF_STEPS = (1, 60, 360, 1440, 3600, 7200, 7200, 7200, 7200, 7200, 7200)
JITTER = 0.2  # each wait ± 20 %, so that an endpoint back from an outage is not stampeded
DISABLE_AFTER = timedelta(days=5)
KEEP_FOR = timedelta(days=30)


def backoff(attempts: int, base: float) -> float | None:
    """Seconds to wait after the `attempts`-th attempt failed; None when it was the last."""
    if attempts > len(BACKOFF_STEPS):
        return None
    wait = BACKOFF_STEPS[attempts - 1] * base
    return wait * random.uniform(1 - JITTER, 1 + JITTER)


async def any_due(*, connection: AsyncConnection) -> bool:
    """Whether a claim would find anything: asked on a reading connection first, so that an
    idle sender takes no write lock (on SQLite every write transaction locks the database)."""
    found = select(WebhookDelivery.id).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
    found = found.where(
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= utcnow(),
        Webhook.enabled.is_(True),
    )
    return (await connection.execute(found.limit(1))).first() is not None


async def claim(
    *,
    connection: AsyncConnection,
    limit: int,
    lease_seconds: float,
    skip_webhooks: Collection[uuid.UUID] = (),
) -> list[Claimed]:
    """Claim up to `limit` due deliveries of enabled endpoints, oldest due first."""
    now = utcnow()
    due = (
        select(
            WebhookDelivery.id,
            WebhookDelivery.webhook_id,
            WebhookDelivery.body,
            WebhookDelivery.attempts,
            Webhook.url,
            Webhook.secret,
            Webhook.previous_secret,
            Webhook.previous_secret_expires_at,
            Webhook.failing_since,
        )
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            Webhook.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )
    if skip_webhooks:
        due = due.where(WebhookDelivery.webhook_id.not_in(list(skip_webhooks)))
    rows = (await connection.execute(due)).all()
    if not rows:
        return []
    token = uuid.uuid4().hex
    lease = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([row.id for row in rows]))
        .values(next_attempt_at=now + timedelta(seconds=lease_seconds), lease=token)
    )
    await connection.execute(lease)
    return [
        Claimed(
            id=row.id,
            webhook_id=row.webhook_id,
            body=row.body,
            attempts=row.attempts,
            url=row.url,
            secrets=_secrets(row, now),
            lease=token,
            failing=row.failing_since is not None,
        )
        for row in rows
    ]


def _secrets(row: Any, now: datetime) -> list[str]:
    secrets = [row.secret]
    expires = row.previous_secret_expires_at
    if row.previous_secret and expires is not None and expires > now:
        secrets.append(row.previous_secret)
    return secrets


_RECORD = (
    update(WebhookDelivery)
    .where(
        WebhookDelivery.id == bindparam("delivery_id"),
        WebhookDelivery.lease == bindparam("claim"),
    )
    .values(
        status=bindparam("new_status"),
        attempts=bindparam("new_attempts"),
        last_status_code=bindparam("status_code"),
        last_error=bindparam("error"),
        next_attempt_at=bindparam("next_at", type_=WebhookDelivery.next_attempt_at.type),
        lease=None,
    )
)


def _outcome(claimed: Claimed, result: Result, backoff_base: float, now: datetime) -> Any:
    attempts = claimed.attempts + 1
    status, next_at = "pending", None
    if result.succeeded:
        status = "succeeded"
    else:
        wait = result.retry_after
        if wait is None or attempts > len(BACKOFF_STEPS):
            wait = backoff(attempts, backoff_base)
        if wait is None:
            status = "failed"
        else:
            next_at = now + timedelta(seconds=wait)
    return {
        "delivery_id": claimed.id,
        "claim": claimed.lease,
        "new_status": status,
        "new_attempts": attempts,
        "status_code": result.status_code,
        "error": result.error,
        "next_at": next_at,
    }


async def record(
    *,
    connection: AsyncConnection,
    outcomes: Sequence[tuple[Claimed, Result]],
    backoff_base: float,
) -> None:
    """Record attempts' outcomes, in one statement (each only while its claim still holds:
    a sender that outlived its lease leaves the row to the one that claimed it since), then
    what they say about their endpoints."""
    if not outcomes:
        return
    now = utcnow()
    rows = [_outcome(claimed, result, backoff_base, now) for claimed, result in outcomes]
    await connection.execute(_RECORD, rows)
    for claimed, result in outcomes:
        if result.succeeded and not claimed.failing:
            continue  # the common case: nothing to change
        await _update_endpoint(connection, claimed.webhook_id, result, now)


async def _update_endpoint(
    connection: AsyncConnection, webhook_id: uuid.UUID, result: Result, now: datetime
) -> None:
    endpoint = update(Webhook).where(Webhook.id == webhook_id)
    if result.succeeded:
        await connection.execute(
            endpoint.where(Webhook.failing_since.is_not(None)).values(failing_since=None)
        )
        return
    if result.outcome == "gone":
        reason = "The endpoint answered 410 Gone."
        await connection.execute(
            endpoint.values(enabled=False, disabled_reason=reason, updated_at=now)
        )
        return
    # Failing since the first failure after the last success; 5 days of that disable it.
    failing_too_long = Webhook.failing_since <= now - DISABLE_AFTER
    await connection.execute(
        endpoint.values(
            failing_since=case((Webhook.failing_since.is_(None), now), else_=Webhook.failing_since),
            enabled=case((failing_too_long, False), else_=Webhook.enabled),
            disabled_reason=case(
                (failing_too_long, "Every delivery failed for 5 days."),
                else_=Webhook.disabled_reason,
            ),
        )
    )


async def prune_deliveries(*, connection: AsyncConnection, batch: int = 1000) -> int:
    """Delete up to `batch` finished deliveries older than 30 days (the log's reach)."""
    old = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.created_at < utcnow() - KEEP_FOR, WebhookDelivery.status != "pending"
        )
        .limit(batch)
    )
    ids = [row.id for row in await connection.execute(old)]
    if ids:
        await connection.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    return len(ids)
