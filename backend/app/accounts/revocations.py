"""Signing out the token a caller presents (`POST /api/auth/revoke`), whatever its kind: our own
access token ends its session, a personal access token is deleted, a Better Auth token is put
on a deny-list until its expiry.

Better Auth signs its JWTs itself and the backend keeps no session for them, so signing out of
the web app would leave its token valid here for up to 15 minutes. Instead the web app asks the
backend to revoke the token it holds (`POST /api/auth/revoke`), and the backend keeps a deny-list
in the database, which every instance reads: a token's key there until its `exp`, after which
the token is refused anyway and the row is deleted (`revocation_cleanup_job`).

The key is the SHA-256 of the token's `jti` (the web app gives each token one), or of the whole
token when it has none: fixed-length whatever the claim, and nothing in it can be replayed.
"""

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import partial

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.models import AuthSession, PersonalAccessToken, RevokedToken
from app.accounts.sessions import Caller
from app.core.background import PeriodicJob
from app.core.database import Database
from app.core.models import utcnow
from app.core.statements import Statement, fetch_all

EXPIRY_BATCH = 1000
CLEANUP_EVERY_SECONDS = 600.0


def token_key(token: str, jti: object) -> str:
    """What the deny-list knows a token by."""
    source = f"jti:{jti}" if isinstance(jti, str) and jti else f"token:{token}"
    return hashlib.sha256(source.encode()).hexdigest()


async def revoke(*, connection: AsyncConnection, key: str, expires_at: datetime) -> None:
    """Refuse the token known by `key` until `expires_at` (revoking it twice is no error)."""
    values = {"token_key": key, "expires_at": expires_at}
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(RevokedToken).values(values).on_conflict_do_nothing()
    await connection.execute(statement)


async def revoke_caller(*, connection: AsyncConnection, caller: Caller) -> None:
    """Stop accepting the caller's token, on every instance (and end its streams)."""
    if caller.credential == "better_auth":
        assert caller.credential_id is not None
        assert caller.expires_at is not None
        await revoke(connection=connection, key=caller.credential_id, expires_at=caller.expires_at)
    elif caller.credential == "personal_token":
        assert caller.credential_id is not None
        statement = delete(PersonalAccessToken).where(
            PersonalAccessToken.user_id == caller.user_id,
            PersonalAccessToken.id == uuid.UUID(caller.credential_id),
        )
        await connection.execute(statement)
    else:
        assert caller.session_id is not None
        ended = (
            update(AuthSession)
            .where(AuthSession.id == caller.session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await connection.execute(ended)


_IS_REVOKED = Statement(
    select(RevokedToken.token_key).where(RevokedToken.token_key == bindparam("token_key"))
)


async def is_revoked(*, connection: AsyncConnection, key: str) -> bool:
    return bool(await fetch_all(connection, _IS_REVOKED, {"token_key": key}))


async def revoked_among(*, connection: AsyncConnection, keys: Iterable[str]) -> set[str]:
    """Which of these keys are on the deny-list (for the streams still open with them)."""
    wanted = set(keys)
    if not wanted:
        return set()
    statement = select(RevokedToken.token_key).where(RevokedToken.token_key.in_(wanted))
    return set((await connection.execute(statement)).scalars())


async def revoked_credentials(
    *, connection: AsyncConnection, token_ids: set[str | None], keys: set[str | None]
) -> set[str]:
    """Of these personal token ids and Better Auth deny-list keys, those no longer accepted:
    the ids of deleted tokens, the keys on the deny-list."""
    ids = {uuid.UUID(token_id) for token_id in token_ids if token_id}
    gone: set[str] = set()
    if ids:
        statement = select(PersonalAccessToken.id).where(PersonalAccessToken.id.in_(ids))
        alive = set((await connection.execute(statement)).scalars())
        gone = {str(token_id) for token_id in ids - alive}
    return gone | await revoked_among(connection=connection, keys={k for k in keys if k})


async def delete_expired_revocations(database: Database, *, batch: int = EXPIRY_BATCH) -> int:
    """Forget revocations of tokens that have expired since; returns how many."""
    deleted = 0
    while True:
        expired = (
            select(RevokedToken.token_key).where(RevokedToken.expires_at <= utcnow()).limit(batch)
        )
        async with database.admitted(), database.engine.begin() as connection:
            statement = delete(RevokedToken).where(RevokedToken.token_key.in_(expired))
            count = (await connection.execute(statement)).rowcount
        deleted += count
        if count < batch:
            return deleted


def revocation_cleanup_job(database: Database) -> PeriodicJob:
    return PeriodicJob(
        "expire token revocations",
        every=CLEANUP_EVERY_SECONDS,
        run=partial(delete_expired_revocations, database),
    )
