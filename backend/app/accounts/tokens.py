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


# Tokens that verified, with their expiry: a client presents the same access token on every
# request for its lifetime, and PyJWT's checks (base64 alphabet, JSON, claims) cost about a tenth
# of a list request's CPU. Keyed by the whole token, signature included, and the secret, so only
# a token that verified can hit; expiry is checked again on every hit. The session behind a
# token is checked by every request anyway (logout is immediate), so nothing else can change.
VERIFIED_CACHE_SIZE = 4096
_verified: dict[tuple[str, str], tuple["AccessClaims", int]] = {}


def decode_access_token(token: str, *, settings: Settings) -> AccessClaims:
    key = (settings.jwt_secret, token)
    cached = _verified.get(key)
    if cached is not None:
        claims, expires = cached
        if expires <= time.time() - LEEWAY_SECONDS:
            raise TokenExpired()
        return claims
    claims, expires = _verify_access_token(token, settings=settings)
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        del _verified[next(iter(_verified))]  # the oldest
    _verified[key] = (claims, expires)
    return claims


def _verify_access_token(token: str, *, settings: Settings) -> tuple[AccessClaims, int]:
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
        verified = AccessClaims(uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"])))
    except ValueError:
        raise TokenInvalid() from None
    return verified, int(claims["exp"])


def token_algorithm(token: str) -> str | None:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenInvalid() from None
    algorithm = header.get("alg")
    return algorithm if isinstance(algorithm, str) else None
