"""Users and their login sessions with refresh tokens."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.models import Base, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Stored normalised (trimmed, lower-case); unique among password accounts (index below).
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(100))
    # A Better Auth identity: the issuer and its user id. Never merged with a password account.
    external_issuer: Mapped[str | None] = mapped_column(String(255))
    external_subject: Mapped[str | None] = mapped_column(String(255))
    # IANA zone of the user's tasks that name none (app.tasks.due).
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The change log's per-user counter and how far it has been pruned (app.sync.changelog).
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    change_floor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    __table_args__ = (
        Index(
            "uq_users_local_email",
            "email",
            unique=True,
            postgresql_where=text("external_subject IS NULL"),
            sqlite_where=text("external_subject IS NULL"),
        ),
        UniqueConstraint("external_issuer", "external_subject", name="uq_users_external_identity"),
    )


class AuthSession(Base):
    """One login: every access and refresh token issued from it dies with it."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    # The clean-up's `expires_at < ? OR revoked_at < ?` (app.accounts.cleanup), one index a
    # side; most sessions are never revoked.
    __table_args__ = (
        Index("ix_auth_sessions_expires_at", "expires_at"),
        Index(
            "ix_auth_sessions_revoked_at",
            "revoked_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
            sqlite_where=text("revoked_at IS NOT NULL"),
        ),
    )


class RefreshToken(Base):
    """A refresh token, kept only as its SHA-256: a leaked table cannot be replayed."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the token is exchanged; presenting it again afterwards means it was stolen.
    used_at: Mapped[datetime | None]


class PersonalAccessToken(Base):
    """A long-lived bearer token for scripts and AI assistants, kept only as its SHA-256.
    Revoking deletes the row, so the next request with it finds nothing, on every instance."""

    __tablename__ = "personal_access_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    # Written at most once a minute per token (see `personal_tokens.LAST_USED_PRECISION`).
    last_used_at: Mapped[datetime | None]


class RevokedToken(Base):
    """A Better Auth token signed out before its expiry, refused by every instance until then
    (app.accounts.revocations): the SHA-256 of its `jti` (of the whole token if it has none)."""

    __tablename__ = "revoked_tokens"

    token_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
