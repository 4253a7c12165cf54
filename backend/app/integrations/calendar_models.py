"""Calendar feeds: a secret URL per feed, kept only as its SHA-256."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


class CalendarFeed(Base):
    """One subscribable calendar of a user's dated tasks. Deleting the row revokes its URL: the
    next request with the token finds nothing, on every instance."""

    __tablename__ = "calendar_feeds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    # The lists the feed shows (UUID strings); null = every list the owner can see.
    list_ids: Mapped[list[str] | None] = mapped_column(JSON)
    include_completed: Mapped[bool] = mapped_column(Boolean, default=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
