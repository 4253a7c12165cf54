"""Account flows: register, login, refresh with rotation and theft detection, logout."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.accounts import queries
from app.accounts.errors import (
    EmailTaken,
    InvalidCredentials,
    SessionRevoked,
    TokenExpired,
    TokenInvalid,
)
from app.accounts.models import User
from app.accounts.passwords import PasswordHasher
from app.accounts.rate_limit import RateLimiter
from app.accounts.schemas import (
    AuthResponse,
    LoginRequest,
    RegisterRequest,
    UserPublic,
    UserUpdate,
)
from app.accounts.tokens import hash_refresh_token, issue_access_token, new_refresh_token
from app.core.config import Settings
from app.core.models import utcnow
from app.tasks import service as task_service


@dataclass(frozen=True)
class AccountContext:
    """What the flows need beyond the database session; one per application."""

    settings: Settings
    hasher: PasswordHasher
    limiter: RateLimiter


async def _start_session(
    *, session: AsyncSession, context: AccountContext, user: User
) -> AuthResponse:
    refresh_token, refresh_hash = new_refresh_token()
    expires_at = utcnow() + timedelta(days=context.settings.refresh_token_days)
    auth_session = await queries.create_auth_session(
        session=session, user_id=user.id, expires_at=expires_at, refresh_hash=refresh_hash
    )
    return _auth_response(context, user, auth_session.id, refresh_token)


def _auth_response(
    context: AccountContext, user: User, session_id: uuid.UUID, refresh_token: str
) -> AuthResponse:
    access_token, lifetime = issue_access_token(
        user_id=user.id, session_id=session_id, settings=context.settings
    )
    return AuthResponse(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=lifetime,
        user=UserPublic.model_validate(user),
    )


async def register(
    *, session: AsyncSession, context: AccountContext, data: RegisterRequest, client: str
) -> AuthResponse:
    await context.limiter.spend(context.settings.register_limit, ("register", client))
    # Hash before touching the database: no transaction (or SQLite write lock) waits on bcrypt.
    password_hash = await context.hasher.hash(data.password)
    if await queries.get_local_user_by_email(session=session, email=data.email):
        raise EmailTaken()
    user = await queries.create_local_user(
        session=session, email=data.email, name=data.name, password_hash=password_hash
    )
    return await _start_session(session=session, context=context, user=user)


async def login(
    *, session: AsyncSession, context: AccountContext, data: LoginRequest, client: str
) -> AuthResponse:
    limit = context.settings.login_limit
    budgets = (("login-email", data.email), ("login-client", client))
    await context.limiter.check(limit, *budgets)
    user = await queries.get_local_user_by_email(session=session, email=data.email)
    # End the read transaction before bcrypt: no pooled connection or lock is held while it runs.
    await session.commit()
    # The same bcrypt work and the same answer whether the email is unknown or the password wrong.
    if not await context.hasher.verify(data.password, user.password_hash if user else None):
        await context.limiter.spend(limit, *budgets)
        raise InvalidCredentials()
    assert user is not None
    return await _start_session(session=session, context=context, user=user)


async def refresh(
    *, session: AsyncSession, context: AccountContext, refresh_token: str
) -> AuthResponse:
    token_hash = hash_refresh_token(refresh_token)
    session_id = await queries.retire_refresh_token(session=session, token_hash=token_hash)
    if session_id is None:
        await _reject_unusable_token(session=session, token_hash=token_hash)
    assert session_id is not None
    found = await queries.get_session_with_user(session=session, session_id=session_id)
    if found is None:
        raise TokenInvalid()
    auth_session, user = found
    if auth_session.revoked_at is not None:
        raise SessionRevoked()
    if auth_session.expires_at <= utcnow():
        raise TokenExpired("The session has expired; sign in again.")
    new_token, new_hash = new_refresh_token()
    await queries.add_refresh_token(
        session=session, session_id=auth_session.id, refresh_hash=new_hash
    )
    return _auth_response(context, user, auth_session.id, new_token)


async def logout(*, session: AsyncSession, refresh_token: str) -> None:
    token_hash = hash_refresh_token(refresh_token)
    session_id = await queries.retire_refresh_token(session=session, token_hash=token_hash)
    if session_id is None:
        await _reject_unusable_token(session=session, token_hash=token_hash)
    assert session_id is not None
    found = await queries.get_session_with_user(session=session, session_id=session_id)
    if found is None or found[0].revoked_at is not None:
        raise SessionRevoked()
    await queries.revoke_auth_session(session=session, session_id=session_id)


async def _reject_unusable_token(*, session: AsyncSession, token_hash: str) -> None:
    """A token that cannot be exchanged: unknown, or already used — then it was stolen."""
    session_id = await queries.get_refresh_token_session_id(session=session, token_hash=token_hash)
    if session_id is None:
        raise TokenInvalid()
    # Either the thief or the rightful owner is replaying a retired token; we cannot tell which,
    # so the whole session goes. Committed here because the request itself answers 401.
    await queries.revoke_auth_session(session=session, session_id=session_id)
    await session.commit()
    raise SessionRevoked("This refresh token was already used; the session has been revoked.")


async def update_profile(
    *, connection: AsyncConnection, user: UserPublic, data: UserUpdate
) -> UserPublic:
    """PATCH /api/auth/me. A new time zone is a write to every dated task that follows it
    (their due_at moves), in the same transaction."""
    changes = data.model_dump(exclude_unset=True)
    if "time_zone" in changes:
        await task_service.change_time_zone(
            connection=connection, owner_id=user.id, time_zone=changes["time_zone"]
        )
    return await queries.update_user(connection=connection, user=user, changes=changes)
