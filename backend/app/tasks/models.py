"""Tasks, their tags, and the priority rank tasks are stored and sorted by."""

import enum
import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Connection,
    Date,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow
from app.lists.models import POSITION
from app.tasks.search_index import create_trigram_index


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
    # Case-folded title, description and tags: the same case-insensitive, Unicode-aware search
    # on SQLite and PostgreSQL, whatever the server's locale.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    # --- v2: due dates, recurrence, reminders, tags, versions ---
    due_date: Mapped[date | None] = mapped_column(Date)
    due_time: Mapped[time | None] = mapped_column(Time)
    # None: the owner's zone (users.time_zone), read at every write.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Computed at every write from due_date, due_time and the zone (app.tasks.due).
    due_at: Mapped[datetime | None]
    # The normalised RRULE, without "RRULE:"; its DTSTART is recurrence_anchor (internal).
    recurrence: Mapped[str | None] = mapped_column(String(500))
    recurrence_anchor: Mapped[date | None] = mapped_column(Date)
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    # A completed occurrence's recurring task. No foreign key: the copies outlive the series.
    series_id: Mapped[uuid.UUID | None]
    # The display copy of the task's tags (canonical names, the task's order), so a page of
    # tasks reads them without a join. task_tags is what filters use.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    # --- v3: lists, subtasks, manual order ---
    # `user_id` above is the task's creator; who sees the task is decided by its list's members
    # (app.lists.visibility).
    list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    # The fractional key among its siblings (same list and parent), bytewise (app.lists.positions).
    position: Mapped[str] = mapped_column(POSITION)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    comment_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    __table_args__ = (
        CheckConstraint("priority IN (1, 2, 3)", name="priority_rank"),
        # Every list query filters by the lists the caller is a member of and orders by one of
        # these keys, then by id.
        Index("ix_tasks_list_created", "list_id", "created_at", "id"),
        Index("ix_tasks_list_updated", "list_id", "updated_at", "id"),
        Index("ix_tasks_list_priority", "list_id", "priority", "id"),
        Index("ix_tasks_list_title", "list_id", "title", "id"),
        # A sync without a cursor pages through the visible tasks by id.
        Index("ix_tasks_list_id", "list_id", "id"),
        # Siblings in manual order (and `parent_id=` / `top_level=`).
        Index("ix_tasks_list_parent_position", "list_id", "parent_id", "position"),
        # A task's children, whatever its list (deletion and completion cascades, moves).
        Index("ix_tasks_parent", "parent_id"),
        # The creator's tasks (the foreign key's cascade, the owner's time zone changes).
        Index("ix_tasks_user_id", "user_id", "id"),
        Index("ix_tasks_assignee", "assignee_id"),
        # sort=due (ascending, nulls last: PostgreSQL's default order for ASC)...
        Index("ix_tasks_list_due", "list_id", "due_at", "id"),
        # ...and sort=-due, whose DESC NULLS LAST a backward scan of the above cannot give.
        Index(
            "ix_tasks_list_due_desc",
            "list_id",
            text("due_at DESC NULLS LAST"),
            text("id DESC"),
        ).ddl_if(dialect="postgresql"),
        # "Which reminders are due now": one range scan over the pending ones only.
        Index(
            "ix_tasks_pending_reminders",
            "remind_at",
            postgresql_where=text("reminded_at IS NULL AND NOT completed"),
            sqlite_where=text("reminded_at IS NULL AND completed = 0"),
        ),
    )


@event.listens_for(Task.__table__, "after_create")
def _add_trigram_index(_table: object, connection: Connection, **_: object) -> None:
    """`metadata.create_all` (the tests) gets migration 0006's index too (PostgreSQL only)."""
    create_trigram_index(connection)


class Tag(Base):
    """One of a user's tags, in the case it was first used; matched case-insensitively."""

    __tablename__ = "tags"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    # casefold(name): what makes two names the same tag.
    name_key: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("user_id", "name_key", name="uq_tags_user_name_key"),)


class TaskTag(Base):
    __tablename__ = "task_tags"

    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )

    # Filtering by tag starts from the tag.
    __table_args__ = (Index("ix_task_tags_tag_task", "tag_id", "task_id"),)
