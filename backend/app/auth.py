"""Password hashing, our own tokens, and the CurrentUser dependency."""

import base64
import hashlib
import hmac
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import bcrypt
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from app import crud
from app.config import Settings
from app.crud import Caller
from app.database import ConnectionDep
from app.errors import TokenExpired, TokenInvalid, Unauthorized
from app.schemas import UserPublic

ACCESS_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["sub", "sid", "typ", "jti", "iat", "exp"]
# A constant HMAC key for the pre-hash: it separates our hashes from plain SHA-256 ones, so a
# leaked list of unsalted SHA-256 hashes from elsewhere cannot be checked against ours.
PREHASH_KEY = b"todo-api/bcrypt-prehash/v1"


class PasswordHasher:
    """bcrypt on a bounded set of threads, so hashing never blocks the event loop and a burst
    of logins cannot take every core from requests that only carry a token."""

    def __init__(self, rounds: int, *, concurrency: int | None = None) -> None:
        self.rounds = rounds
        self._limiter = anyio.CapacityLimiter(concurrency or os.cpu_count() or 1)
        # Compared against when the email is unknown, so that path costs one bcrypt as well.
        self.dummy_hash = self._hash(secrets.token_urlsafe(16))

    @staticmethod
    def _prehash(password: str) -> bytes:
        # bcrypt reads only 72 bytes; 64 emoji are 256. HMAC-SHA-256 first, base64 to avoid
        # NUL bytes: every character counts and the input is always 44 bytes.
        digest = hmac.new(PREHASH_KEY, password.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest)

    def _hash(self, password: str) -> str:
        return bcrypt.hashpw(self._prehash(password), bcrypt.gensalt(self.rounds)).decode()

    def _verify(self, password: str, password_hash: str) -> bool:
        try:
            return bcrypt.checkpw(self._prehash(password), password_hash.encode())
        except ValueError:
            return False

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hash, password, limiter=self._limiter)

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Always spends one bcrypt, whether or not there is a hash to check against."""
        target = password_hash or self.dummy_hash
        matched = await anyio.to_thread.run_sync(
            self._verify, password, target, limiter=self._limiter
        )
        return matched and password_hash is not None


def new_refresh_token() -> tuple[str, str]:
    """A refresh token (256 random bits) and the SHA-256 we store instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    # Unsalted is fine here: the token is 256 random bits, nothing to look up in a table.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_access_token(
    *, user_id: uuid.UUID, session_id: uuid.UUID, settings: Settings
) -> tuple[str, int]:
    lifetime = settings.access_token_minutes * 60
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": ACCESS_TOKEN_TYPE,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ACCESS_ALGORITHM), lifetime


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID


def decode_access_token(token: str, *, settings: Settings) -> AccessClaims:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ACCESS_ALGORITHM],
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except jwt.InvalidTokenError:
        raise TokenInvalid() from None
    if claims["typ"] != ACCESS_TOKEN_TYPE:
        raise TokenInvalid()
    try:
        return AccessClaims(uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"])))
    except ValueError:
        raise TokenInvalid() from None


def token_algorithm(token: str) -> str | None:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenInvalid() from None
    algorithm = header.get("alg")
    return algorithm if isinstance(algorithm, str) else None


bearer_scheme = HTTPBearer(
    auto_error=False,
    description="Paste the `access_token` from `/api/auth/register` or `/api/auth/login`.",
)


async def _verified_caller(
    request: Request, connection: AsyncConnection, credentials: HTTPAuthorizationCredentials | None
) -> tuple[Caller, UserPublic | None]:
    """The bearer token verified, and for a Better Auth token also its linked user. The
    session of one of our access tokens is left to check (`Caller.session_id`)."""
    if credentials is None:
        raise Unauthorized()
    token = credentials.credentials
    better_auth = request.app.state.better_auth
    # Without the bridge every token must be ours: skip parsing the header twice.
    if better_auth is None or token_algorithm(token) == ACCESS_ALGORITHM:
        claims = decode_access_token(token, settings=request.app.state.settings)
        caller, user = Caller(claims.user_id, claims.session_id), None
    else:
        user = await better_auth.authenticate(token, connection=connection)
        caller = Caller(user.id, None)
    request.state.user_id = str(caller.user_id)
    return caller, user


async def current_user(
    request: Request,
    connection: ConnectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> UserPublic:
    caller, user = await _verified_caller(request, connection, credentials)
    if user is not None:
        return user
    assert caller.session_id is not None
    return await crud.get_user_for_session(
        connection=connection, user_id=caller.user_id, session_id=caller.session_id
    )


async def current_reader(
    request: Request,
    connection: ConnectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """For the task reads only, which check the caller's session in the same statement as the
    data they read (`crud.list_tasks`, `crud.get_task`): one round trip instead of two on the
    busiest routes. Same 401s as `current_user`, but a bad query parameter is answered 422
    before a dead session is found out."""
    caller, _ = await _verified_caller(request, connection, credentials)
    return caller


# The signed-in user, as read for this request (a snapshot, not a tracked ORM object).
CurrentUser = Annotated[UserPublic, Depends(current_user)]
# The caller of a task read, whose session that read checks itself.
TaskReader = Annotated[Caller, Depends(current_reader)]
