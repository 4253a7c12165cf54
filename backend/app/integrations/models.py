"""The integrations domain's tables: webhook endpoints and their deliveries (the outbox)."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base


class Webhook(Base):
    """An endpoint a user registered. The secret signs deliveries, so it is kept as it is (an
    HMAC key cannot be hashed); it leaves the service only in the responses that create it."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)  # ["*"] or event names
    description: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation the old secret signs too, until it expires (24 hours).
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The first failure since the last success: 5 days later the endpoint is disabled.
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event for one endpoint, written in the transaction of the change it reports. Its id
    is the `webhook-id` of every attempt. While a sender holds it, `next_attempt_at` is the end
    of the sender's lease and `lease` names the sender's claim."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, fixed when the change happened
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    attempts: Mapped[int] = mapped_column(Integer)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    lease: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]

    __table_args__ = (
        # The senders' claim: pending deliveries by when they are due.
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        # An endpoint's delivery log, newest first.
        Index("ix_webhook_deliveries_webhook_id", "webhook_id", "created_at"),
        # The pruning of old deliveries.
        Index("ix_webhook_deliveries_created_at", "created_at"),
    )
