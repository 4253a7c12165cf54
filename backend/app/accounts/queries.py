"""The account domain's queries: users, sessions and refresh tokens, Better Auth users."""

import uuid
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.accounts.errors import EmailTaken
from app.accounts.models import AuthSession, RefreshToken, User
from app.accounts.schemas import UserPublic
from app.core.models import updated_after, utcnow
from app.core.sqlite import allow_writes
from app.core.statements import Statement, fetch_all
from app.lists.queries import create_inbox

# --- users ------------------------------------------------------------------------------------


async def get_local_user_by_email(*, session: AsyncSession, email: str) -> User | None:
    statement = select(User).where(User.email == email, User.external_subject.is_(None))
    return (await session.execute(statement)).scalar_one_or_none()


async def create_local_user(
    *, session: AsyncSession, email: str, name: str, password_hash: str
) -> User:
    now = utcnow()
    user = User(email=email, name=name, password_hash=password_hash, created_at=now, updated_at=now)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        # Two registrations raced past the lookup: the unique index decides, once.
        raise EmailTaken() from None
    await create_inbox(connection=await session.connection(), user_id=user.id)
    return user


# --- sessions and refresh tokens --------------------------------------------------------------


async def create_auth_session(
    *, session: AsyncSession, user_id: uuid.UUID, expires_at: datetime, refresh_hash: str
) -> AuthSession:
    auth_session = AuthSession(user_id=user_id, expires_at=expires_at)
    session.add(auth_session)
    await session.flush()
    session.add(RefreshToken(token_hash=refresh_hash, session_id=auth_session.id))
    await session.flush()
    return auth_session


async def add_refresh_token(
    *, session: AsyncSession, session_id: uuid.UUID, refresh_hash: str
) -> None:
    session.add(RefreshToken(token_hash=refresh_hash, session_id=session_id))
    await session.flush()


async def retire_refresh_token(*, session: AsyncSession, token_hash: str) -> uuid.UUID | None:
    """Mark an unused token used, atomically: of concurrent callers only one gets its session."""
    statement = (
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .returning(RefreshToken.session_id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_refresh_token_session_id(
    *, session: AsyncSession, token_hash: str
) -> uuid.UUID | None:
    statement = select(RefreshToken.session_id).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_session_with_user(
    *, session: AsyncSession, session_id: uuid.UUID
) -> tuple[AuthSession, User] | None:
    statement = (
        select(AuthSession, User)
        .join(User, AuthSession.user_id == User.id)
        .where(AuthSession.id == session_id)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row[0], row[1])


async def revoke_auth_session(*, session: AsyncSession, session_id: uuid.UUID) -> None:
    statement = (
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await session.execute(statement)


# --- Better Auth users ------------------------------------------------------------------------

_USER_COLUMNS = (
    User.id,
    User.email,
    User.name,
    User.created_at,
    User.updated_at,
    User.time_zone,
)
_EXTERNAL_USER = Statement(
    select(*_USER_COLUMNS).where(
        User.external_issuer == bindparam("issuer"), User.external_subject == bindparam("subject")
    )
)


async def get_external_user(
    *, connection: AsyncConnection, issuer: str, subject: str
) -> UserPublic | None:
    rows = await fetch_all(connection, _EXTERNAL_USER, {"issuer": issuer, "subject": subject})
    return UserPublic.model_validate(rows[0]) if rows else None


async def create_external_user(
    *, connection: AsyncConnection, issuer: str, subject: str, email: str, name: str
) -> UserPublic:
    """The user linked to (issuer, subject): inserted, or the one a concurrent first request
    inserted a moment earlier. ON CONFLICT DO NOTHING instead of catching IntegrityError: on
    PostgreSQL a failed INSERT would abort the whole request's transaction."""
    await allow_writes(connection)  # this runs inside GET requests too
    now = utcnow()
    values = {
        "id": uuid.uuid4(),
        "email": email,
        "name": name,
        "external_issuer": issuer,
        "external_subject": subject,
        "created_at": now,
        "updated_at": now,
    }
    target = ["external_issuer", "external_subject"]  # uq_users_external_identity
    if connection.dialect.name == "postgresql":
        pg_insert = postgresql.insert(User).values(values)
        statement = pg_insert.on_conflict_do_nothing(index_elements=target).returning(User.id)
    else:
        sqlite_insert = sqlite.insert(User).values(values)
        statement = sqlite_insert.on_conflict_do_nothing(index_elements=target).returning(User.id)
    inserted = (await connection.execute(statement)).scalar_one_or_none()
    if inserted is not None:  # not the request that lost the race: its winner made the Inbox
        await create_inbox(connection=connection, user_id=inserted)
    user = await get_external_user(connection=connection, issuer=issuer, subject=subject)
    assert user is not None  # inserted above, or by the request that won the race
    return user


async def update_external_user(
    *, connection: AsyncConnection, user: UserPublic, email: str | None, name: str | None
) -> UserPublic:
    """Copy an email or name that changed at the provider; None keeps the stored value. Writes
    only when something changed, so a request with an unchanged token costs no UPDATE."""
    changes = {
        field: value
        for field, value in (("email", email), ("name", name))
        if value is not None and getattr(user, field) != value
    }
    if not changes:
        return user
    await allow_writes(connection)
    updated_at = updated_after(user.updated_at)
    statement = update(User).where(User.id == user.id).values({**changes, "updated_at": updated_at})
    await connection.execute(statement)
    return user.model_copy(update={**changes, "updated_at": updated_at})


async def update_user(
    *, connection: AsyncConnection, user: UserPublic, changes: dict[str, str]
) -> UserPublic:
    """Store a user's new name and/or time zone."""
    updated_at = updated_after(user.updated_at)
    statement = update(User).where(User.id == user.id).values({**changes, "updated_at": updated_at})
    await connection.execute(statement)
    return user.model_copy(update={**changes, "updated_at": updated_at})
