"""Is the caller's session live? The check every authenticated request makes, either as its own
indexed lookup or inside a task read's statement."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.errors import SessionRevoked, TokenInvalid
from app.accounts.models import AuthSession, User
from app.accounts.schemas import UserPublic
from app.core.models import utcnow
from app.core.statements import Statement, fetch_all

# What kind of bearer token the caller presented.
Credential = Literal["access_token", "better_auth", "personal_token"]


@dataclass(frozen=True)
class Caller:
    """Whom a verified token speaks for. `session_id` is the session of one of our access
    tokens, not checked yet; None for a Better Auth user or a personal access token, which are
    fully checked when verified."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None
    credential: Credential = "access_token"
    # For a credential that can end without its session: the personal token's id, or the
    # Better Auth token's key on the deny-list; and when it stops being accepted. A stream
    # opened with it ends with it (app.sync.hub).
    credential_id: str | None = None
    expires_at: datetime | None = None


# The user and session behind one of our access tokens, by primary keys.
SESSION_USER = Statement(
    select(
        User.id,
        User.email,
        User.name,
        User.created_at,
        User.updated_at,
        User.time_zone,
        AuthSession.revoked_at,
        AuthSession.expires_at,
    )
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(AuthSession.id == bindparam("session_id"), User.id == bindparam("user_id"))
)


async def get_user_for_session(
    *, connection: AsyncConnection, user_id: uuid.UUID, session_id: uuid.UUID
) -> UserPublic:
    """The user behind one of our access tokens, in one indexed lookup. 401 unless the session
    is that user's and live: `token_invalid` for no such session, else `session_revoked`."""
    rows = await fetch_all(connection, SESSION_USER, {"session_id": session_id, "user_id": user_id})
    if not rows:
        raise TokenInvalid()
    row = rows[0]
    if row["revoked_at"] is not None or row["expires_at"] <= utcnow():
        raise SessionRevoked()
    return UserPublic.model_validate(row)


async def require_live_session(*, connection: AsyncConnection, caller: Caller) -> None:
    """Raise the 401 `get_user_for_session` would, if the caller's session is not live."""
    if caller.session_id is not None:
        await get_user_for_session(
            connection=connection, user_id=caller.user_id, session_id=caller.session_id
        )


# A task read's own check of the caller's session (see `read_parameters`): part of the same
# statement as the data, where a separate lookup would cost a round trip on every request.
SESSION_IS_LIVE = (
    select(AuthSession.id)
    .where(
        AuthSession.id == bindparam("session_id"),
        AuthSession.user_id == bindparam("owner_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
    .exists()
)


def read_parameters(caller: Caller) -> dict[str, Any]:
    """The values of a task read's owner filter and, for a caller with a session, of
    `SESSION_IS_LIVE`. A read that finds nothing for such a caller cannot tell an empty
    result from a dead session: it asks `require_live_session` before answering."""
    if caller.session_id is None:
        return {"owner_id": caller.user_id}
    return {"owner_id": caller.user_id, "session_id": caller.session_id, "now": utcnow()}
