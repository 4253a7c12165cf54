"""Personal access tokens: long-lived bearer tokens for scripts and AI assistants.

A token is `todo_pat_` followed by 256 random bits. The prefix lets the auth dependency tell it
from a JWT without parsing anything; only its SHA-256 is stored, so a leaked table cannot be
replayed. Every request looks the hash up, so a revoked (deleted) token fails at once on every
instance.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.errors import (
    PersonalTokenLimitReached,
    PersonalTokenNotFound,
    TokenExpired,
    TokenInvalid,
)
from app.accounts.models import PersonalAccessToken, User
from app.accounts.schemas import PersonalTokenCreate, UserPublic
from app.core.models import utcnow
from app.core.sqlite import allow_writes
from app.core.statements import Statement, fetch_all

PREFIX = "todo_pat_"
# `last_used_at` is written when it is older than this: accurate to a minute, and a busy
# script costs one UPDATE a minute instead of one per request.
LAST_USED_PRECISION = timedelta(minutes=1)
# Per user (API.md): enough for every script and assistant, and a leaked sign-in cannot mint
# tokens without end.
MAX_TOKENS_PER_USER = 100


def is_personal_token(token: str) -> bool:
    return token.startswith(PREFIX)


def hash_personal_token(token: str) -> str:
    # Unsalted is fine: the token is 256 random bits, nothing to look up in a table.
    return hashlib.sha256(token.encode()).hexdigest()


def new_personal_token() -> tuple[str, str]:
    """A new token and the hash we store instead of it."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, hash_personal_token(token)


# The user behind a token, with what decides whether the token still works. The user's columns
# are those `UserPublic` shows, whatever they are.
_TOKEN_USER = Statement(
    select(
        *(getattr(User, name) for name in UserPublic.model_fields),
        PersonalAccessToken.id.label("token_id"),
        PersonalAccessToken.expires_at.label("token_expires_at"),
        PersonalAccessToken.last_used_at.label("token_last_used_at"),
    )
    .join(PersonalAccessToken, PersonalAccessToken.user_id == User.id)
    .where(PersonalAccessToken.token_hash == bindparam("token_hash"))
)


@dataclass(frozen=True)
class PersonalTokenUse:
    """The user a personal token speaks for, and the token's id and expiry."""

    user: UserPublic
    token_id: uuid.UUID
    expires_at: datetime | None


async def authenticate_personal_token(
    *, connection: AsyncConnection, token: str
) -> PersonalTokenUse:
    """The user a personal token speaks for: one indexed lookup, plus an UPDATE of
    `last_used_at` at most once a minute. 401 `token_invalid` for an unknown or revoked token,
    `token_expired` past its expiry."""
    rows = await fetch_all(connection, _TOKEN_USER, {"token_hash": hash_personal_token(token)})
    if not rows:
        raise TokenInvalid()
    row = rows[0]
    now = utcnow()
    expires_at = row["token_expires_at"]
    if expires_at is not None and expires_at <= now:
        raise TokenExpired()
    last_used_at = row["token_last_used_at"]
    if last_used_at is None or last_used_at <= now - LAST_USED_PRECISION:
        await _record_use(connection=connection, token_id=row["token_id"], now=now)
    return PersonalTokenUse(UserPublic.model_validate(row), row["token_id"], expires_at)


async def _record_use(*, connection: AsyncConnection, token_id: uuid.UUID, now: datetime) -> None:
    # This runs inside GET requests too: on SQLite their read transaction must become a writer
    # that waits for the lock, or the UPDATE fails with "database is locked" under load.
    await allow_writes(connection)
    # Conditional, so that of concurrent first uses in a minute only one writes.
    stale = or_(
        PersonalAccessToken.last_used_at.is_(None),
        PersonalAccessToken.last_used_at <= now - LAST_USED_PRECISION,
    )
    statement = (
        update(PersonalAccessToken)
        .where(PersonalAccessToken.id == token_id, stale)
        .values(last_used_at=now)
    )
    await connection.execute(statement)


# --- management (the /api/auth/tokens routes) ---------------------------------------------------

PUBLIC_COLUMNS = (
    PersonalAccessToken.id,
    PersonalAccessToken.name,
    PersonalAccessToken.created_at,
    PersonalAccessToken.expires_at,
    PersonalAccessToken.last_used_at,
)


async def create_personal_token(
    *, connection: AsyncConnection, owner_id: uuid.UUID, data: PersonalTokenCreate
) -> dict[str, Any]:
    """A new token of the owner's; the result holds the token itself, shown this once.
    422 `limit_reached` when the owner has MAX_TOKENS_PER_USER already."""
    await _lock_owners_tokens(connection=connection, owner_id=owner_id)
    count = select(func.count()).where(PersonalAccessToken.user_id == owner_id)
    if (await connection.scalar(count) or 0) >= MAX_TOKENS_PER_USER:
        raise PersonalTokenLimitReached()
    token, token_hash = new_personal_token()
    now = utcnow()
    expires_at = None
    if data.expires_in_days is not None:
        expires_at = now + timedelta(days=data.expires_in_days)
    record = {
        "id": uuid.uuid4(),
        "name": data.name,
        "created_at": now,
        "expires_at": expires_at,
        "last_used_at": None,
    }
    values = {**record, "user_id": owner_id, "token_hash": token_hash}
    await connection.execute(insert(PersonalAccessToken).values(values))
    return {**record, "token": token}


async def _lock_owners_tokens(*, connection: AsyncConnection, owner_id: uuid.UUID) -> None:
    """Concurrent creations of one user's tokens take turns, so that each counts the others'
    and the cap holds: on PostgreSQL by locking the user's row (a token's insert only reads
    it), on SQLite by the write lock every write transaction begins with."""
    await connection.execute(select(User.id).where(User.id == owner_id).with_for_update())


async def list_personal_tokens(
    *, connection: AsyncConnection, owner_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The owner's tokens, newest first (never the token or its hash)."""
    statement = (
        select(*PUBLIC_COLUMNS)
        .where(PersonalAccessToken.user_id == owner_id)
        .order_by(PersonalAccessToken.created_at.desc(), PersonalAccessToken.id.desc())
    )
    result = await connection.execute(statement)
    return [dict(row) for row in result.mappings()]


async def revoke_personal_token(
    *, connection: AsyncConnection, owner_id: uuid.UUID, token_id: uuid.UUID
) -> None:
    """Delete one of the owner's tokens; another user's token is simply not found."""
    statement = delete(PersonalAccessToken).where(
        PersonalAccessToken.user_id == owner_id, PersonalAccessToken.id == token_id
    )
    result = await connection.execute(statement)
    if result.rowcount == 0:
        raise PersonalTokenNotFound()
