"""The sync domain's tables: the per-user change log, idempotency keys and event tickets.

The per-user counter itself lives on `users` (`change_seq`, `change_floor`, see
`app.sync.changelog`)."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base


class TaskChange(Base):
    """One write to one task, numbered per user: `seq` is the sync cursor and the SSE event id.
    No foreign key to `tasks`: a deletion is remembered after the task is gone."""

    __tablename__ = "task_changes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The task's id, or the list's for a list entry (`entity`).
    task_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))  # created | updated | deleted | reminder
    entity: Mapped[str] = mapped_column(String(8), default="task", server_default="task")
    at: Mapped[datetime]

    # The pruning job finds the oldest entries of every user.
    __table_args__ = (Index("ix_task_changes_at", "at"),)


class IdempotencyKey(Base):
    """A `POST /api/tasks` with an `Idempotency-Key`: claimed while it runs, then its response."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request body
    # Whose claim this is while it runs: a request that outlived its lease and lost the key
    # to a retry finds out when it tries to store its response.
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)  # null while running
    body: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)


class EventTicket(Base):
    """A single-use ticket for `GET /api/events?ticket=`, kept only as its SHA-256."""

    __tablename__ = "event_tickets"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The session of the token that asked for it: logging out ends the stream too.
    session_id: Mapped[uuid.UUID | None]
    expires_at: Mapped[datetime] = mapped_column(index=True)
