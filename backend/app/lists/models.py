"""Lists and their members. A list's tasks are visible to its members (`visibility`); today
every list has exactly one member, its owner, and sharing adds more without a new table."""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow

# A fractional position key (`positions`): compared as bytes on every database. SQLite's TEXT
# compares bytewise already; PostgreSQL needs the "C" collation, not the server's locale.
POSITION = String(255).with_variant(String(255, collation="C"), "postgresql")

ROLES = ("viewer", "editor", "owner")


class TaskList(Base):
    __tablename__ = "lists"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    color: Mapped[str | None] = mapped_column(String(7))
    # The user whose Inbox this is; null for every other list. Unique: one Inbox per user.
    inbox_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # +1 on any change to the list, its members or their roles (the list's ETag).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))


class ListMember(Base):
    __tablename__ = "list_members"

    list_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(10))
    # This member's own sidebar order key (each member orders their lists their way).
    position: Mapped[str] = mapped_column(POSITION)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("role IN ('owner', 'editor', 'viewer')", name="role"),
        # Exactly one owner per list.
        Index(
            "uq_list_members_owner",
            "list_id",
            unique=True,
            postgresql_where=text("role = 'owner'"),
            sqlite_where=text("role = 'owner'"),
        ),
        # The visibility rule's subquery ("the lists this user is a member of") and the
        # sidebar order, from one index.
        Index("ix_list_members_user_position", "user_id", "position", "list_id"),
    )
