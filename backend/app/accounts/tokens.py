"""Our own tokens: HS256 access tokens tied to a session, and opaque refresh tokens."""

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from app.accounts.errors import TokenExpired, TokenInvalid
from app.core.config import Settings

ACCESS_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["sub", "sid", "typ", "jti", "iat", "exp"]


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
