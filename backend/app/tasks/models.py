"""Tasks, and the priority rank they are stored and sorted by."""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Dialect,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


class Priority(enum.StrEnum):
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"


PRIORITY_RANKS = {Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}
PRIORITY_BY_RANK = {rank: priority for priority, rank in PRIORITY_RANKS.items()}


class PriorityRank(TypeDecorator[Priority]):
    """Stored as a small integer so that ORDER BY priority puts High before Medium before Low."""

    impl = SmallInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else PRIORITY_RANKS[Priority(value)]

    def process_result_value(self, value: int | None, dialect: Dialect) -> Priority | None:
        return None if value is None else PRIORITY_BY_RANK[value]


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[Priority] = mapped_column(PriorityRank, default=Priority.MEDIUM)
    # Case-folded title and description: the same case-insensitive, Unicode-aware search on
    # SQLite and PostgreSQL, whatever the server's locale.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("priority IN (1, 2, 3)", name="priority_rank"),
        # Every list query filters by owner and orders by one of these keys, then by id.
        Index("ix_tasks_user_created", "user_id", "created_at", "id"),
        Index("ix_tasks_user_updated", "user_id", "updated_at", "id"),
        Index("ix_tasks_user_priority", "user_id", "priority", "id"),
        Index("ix_tasks_user_title", "user_id", "title", "id"),
    )
