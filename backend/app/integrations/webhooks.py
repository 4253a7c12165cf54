"""A user's webhook endpoints: create, read, change, delete, rotate the secret, queue a test
and a redelivery, read the delivery log. Keyword-only and always scoped by the owner: another
user's endpoint (or delivery) is simply not found."""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import User
from app.core.models import utcnow
from app.integrations.errors import (
    DeliveryNotFound,
    InvalidUrl,
    WebhookDisabled,
    WebhookLimitReached,
    WebhookNotFound,
)
from app.integrations.guard import Guard, UnsafeUrl
from app.integrations.models import Webhook, WebhookDelivery
from app.integrations.outbox import body, delivery_row
from app.integrations.schemas import WebhookCreate
from app.integrations.signing import new_secret

Record = dict[str, Any]

MAX_WEBHOOKS = 10
ROTATION_GRACE = timedelta(hours=24)
DELIVERY_LOG_DAYS = 30

PUBLIC = (
    Webhook.id,
    Webhook.url,
    Webhook.events,
    Webhook.description,
    Webhook.enabled,
    Webhook.disabled_reason,
    Webhook.created_at,
)


async def check_url(guard: Guard, url: str) -> None:
    """422 `invalid_url` unless the URL is https, without credentials, and every address its
    host resolves to is public. A host that does not resolve (yet) is accepted: it cannot
    point inward, and every send checks it again."""
    try:
        await guard.check(url)
    except UnsafeUrl as exc:
        if str(exc) == "does not resolve":
            return
        raise InvalidUrl(f"The URL {exc}.") from None


def _owned(user_id: uuid.UUID, webhook_id: uuid.UUID) -> Any:
    return (Webhook.user_id == user_id, Webhook.id == webhook_id)


async def create_webhook(
    *, connection: AsyncConnection, guard: Guard, user_id: uuid.UUID, data: WebhookCreate
) -> Record:
    """A new endpoint, with its secret (shown this once)."""
    await check_url(guard, data.url)
    # The owner's row locked: two creations at once cannot both be the tenth.
    lock = select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    await connection.execute(lock)
    count = select(func.count()).select_from(Webhook).where(Webhook.user_id == user_id)
    if (await connection.execute(count)).scalar_one() >= MAX_WEBHOOKS:
        raise WebhookLimitReached()
    now = utcnow()
    webhook = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "url": data.url,
        "events": data.events,
        "description": data.description,
        "secret": new_secret(),
        "previous_secret": None,
        "previous_secret_expires_at": None,
        "enabled": True,
        "disabled_reason": None,
        "failing_since": None,
        "created_at": now,
        "updated_at": now,
    }
    await connection.execute(insert(Webhook).values(webhook))
    return webhook


async def list_webhooks(*, connection: AsyncConnection, user_id: uuid.UUID) -> list[Record]:
    statement = (
        select(*PUBLIC).where(Webhook.user_id == user_id).order_by(Webhook.created_at, Webhook.id)
    )
    return [dict(row) for row in (await connection.execute(statement)).mappings()]


async def get_webhook(
    *, connection: AsyncConnection, user_id: uuid.UUID, webhook_id: uuid.UUID
) -> Record:
    statement = select(*PUBLIC).where(*_owned(user_id, webhook_id))
    row = (await connection.execute(statement)).mappings().one_or_none()
    if row is None:
        raise WebhookNotFound()
    return dict(row)


async def update_webhook(
    *,
    connection: AsyncConnection,
    guard: Guard,
    user_id: uuid.UUID,
    webhook_id: uuid.UUID,
    members: Record,
) -> Record:
    """PATCH. Enabling an endpoint clears why it was disabled and sends its pending
    deliveries at once."""
    if "url" in members:
        await check_url(guard, members["url"])
    values = {**members, "updated_at": utcnow()}
    if "enabled" in members:
        values |= {"disabled_reason": None, "failing_since": None}
    statement = (
        update(Webhook).where(*_owned(user_id, webhook_id)).values(values).returning(Webhook.id)
    )
    if (await connection.execute(statement)).first() is None:
        raise WebhookNotFound()
    if members.get("enabled"):
        resume = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.lease.is_(None),
            )
            .values(next_attempt_at=utcnow())
        )
        await connection.execute(resume)
    return await get_webhook(connection=connection, user_id=user_id, webhook_id=webhook_id)


async def delete_webhook(
    *, connection: AsyncConnection, user_id: uuid.UUID, webhook_id: uuid.UUID
) -> None:
    """Delete an endpoint and its delivery log (what was still pending is dropped)."""
    await connection.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.webhook_id.in_(select(Webhook.id).where(*_owned(user_id, webhook_id)))
        )
    )
    statement = delete(Webhook).where(*_owned(user_id, webhook_id)).returning(Webhook.id)
    if (await connection.execute(statement)).first() is None:
        raise WebhookNotFound()


async def rotate_secret(
    *, connection: AsyncConnection, user_id: uuid.UUID, webhook_id: uuid.UUID
) -> str:
    """A new secret; the old one keeps signing beside it for ROTATION_GRACE."""
    secret = new_secret()
    now = utcnow()
    statement = (
        update(Webhook)
        .where(*_owned(user_id, webhook_id))
        .values(
            previous_secret=Webhook.secret,
            previous_secret_expires_at=now + ROTATION_GRACE,
            secret=secret,
            updated_at=now,
        )
        .returning(Webhook.id)
    )
    if (await connection.execute(statement)).first() is None:
        raise WebhookNotFound()
    return secret


async def _enabled_webhook(
    connection: AsyncConnection, user_id: uuid.UUID, webhook_id: uuid.UUID
) -> None:
    statement = select(Webhook.enabled).where(*_owned(user_id, webhook_id))
    enabled = (await connection.execute(statement)).scalar_one_or_none()
    if enabled is None:
        raise WebhookNotFound()
    if not enabled:
        raise WebhookDisabled()


async def queue_test(
    *, connection: AsyncConnection, user_id: uuid.UUID, webhook_id: uuid.UUID
) -> uuid.UUID:
    """A `webhook.test` delivery to this endpoint alone, whatever its events."""
    await _enabled_webhook(connection, user_id, webhook_id)
    now = utcnow()
    text = body("webhook.test", now, {"webhook_id": str(webhook_id)})
    row = delivery_row(webhook_id, "webhook.test", text, now)
    await connection.execute(insert(WebhookDelivery).values(row))
    delivery_id: uuid.UUID = row["id"]
    return delivery_id


async def redeliver(
    *,
    connection: AsyncConnection,
    user_id: uuid.UUID,
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> None:
    """One more attempt of a delivery, now, whatever its status (the same `webhook-id`)."""
    await _enabled_webhook(connection, user_id, webhook_id)
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook_id)
        # A claim in flight loses the delivery: its outcome is not recorded, this attempt's is.
        .values(status="pending", next_attempt_at=utcnow(), lease=None)
        .returning(WebhookDelivery.id)
    )
    if (await connection.execute(statement)).first() is None:
        raise DeliveryNotFound()


async def list_deliveries(
    *, connection: AsyncConnection, user_id: uuid.UUID, webhook_id: uuid.UUID, limit: int
) -> list[Record]:
    """The endpoint's deliveries of the last 30 days, newest first."""
    await get_webhook(connection=connection, user_id=user_id, webhook_id=webhook_id)
    since = utcnow() - timedelta(days=DELIVERY_LOG_DAYS)
    statement = (
        select(*WebhookDelivery.__table__.c)
        .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.created_at >= since)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
    )
    rows = (await connection.execute(statement)).mappings()
    return [dict(row) for row in rows]
