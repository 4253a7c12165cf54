"""Better Auth bridge: accept the JWTs a Better Auth frontend issues (its `jwt()` plugin),
verified against the keys it publishes at its JWKS endpoint.

Trust comes only from the JWKS we fetched: the algorithm is the key's, never the token's, and a
token can neither point at its own key (`jku`, `jwk`, `x5u`, `x5c`) nor name an unknown one.
"""

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import jwt
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts import queries
from app.accounts.errors import (
    AuthProviderUnavailable,
    SessionRevoked,
    TokenExpired,
    TokenInvalid,
)
from app.accounts.revocations import is_revoked, token_key
from app.accounts.schemas import UserPublic
from app.core.config import Settings

logger = logging.getLogger(__name__)

# Asymmetric only: with an HMAC algorithm the public key would be the secret.
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "ES256", "ES512", "RS256", "PS256"})
# A token saying where its key is (or how to parse it) is never legitimate from Better Auth.
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit", "b64"})
REQUIRED_CLAIMS = ["exp", "sub", "iss", "aud"]
# Clock skew tolerated between the frontend and us. Small: a token past its `exp` must stop
# working, streams included, within 5 s (API.md); the web app renews a minute ahead anyway.
LEEWAY_SECONDS = 3
FETCH_TIMEOUT_SECONDS = 3.0
# Unknown kids trigger a refetch; this bounds how often junk tokens can make us call the frontend.
MIN_REFETCH_SECONDS = 5.0
# Known keys are re-read this often, so a key the frontend withdrew stops working (jose's default).
KEYS_MAX_AGE_SECONDS = 600.0
MAX_SUBJECT_LENGTH = 255  # users.external_subject
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 100
FALLBACK_NAME = "Better Auth user"


@dataclass(frozen=True)
class BetterAuthConfig:
    jwks_url: str
    issuer: str
    audience: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "BetterAuthConfig":
        # Better Auth's `iss`/`aud` are its baseURL without a trailing slash.
        base = (settings.better_auth_url or "").rstrip("/")
        config = cls(
            jwks_url=settings.better_auth_jwks_url or f"{base}/api/auth/jwks",
            issuer=settings.better_auth_issuer or base,
            audience=settings.better_auth_audience or base,
        )
        if settings.is_production and not _is_safe_transport(config.jwks_url):
            logger.warning("BETTER_AUTH_JWKS_URL is not https: keys could be swapped in transit")
        return config


def _is_safe_transport(url: str) -> bool:
    parsed = httpx.URL(url)
    return parsed.scheme == "https" or parsed.host in {"localhost", "127.0.0.1", "::1"}


class JWKSUnavailable(Exception):
    """The JWKS could not be fetched or read."""


def usable_key(jwk: object) -> tuple[str, jwt.PyJWK] | None:
    """A JWKS member we may verify with: a signing key with a kid and an allowed algorithm
    (its `alg`, or derived from kty/crv when absent). Anything else is skipped, never trusted."""
    if not isinstance(jwk, dict):
        return None
    kid = jwk.get("kid")
    key_ops = jwk.get("key_ops")
    if not isinstance(kid, str) or not kid or jwk.get("use", "sig") != "sig":
        return None
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return None
    try:
        key = jwt.PyJWK(jwk)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None
    return (kid, key) if key.algorithm_name in ALLOWED_ALGORITHMS else None


class JWKSCache:
    """The frontend's public keys by kid, fetched lazily and refreshed under a throttle."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        min_refetch: float = MIN_REFETCH_SECONDS,
        max_age: float = KEYS_MAX_AGE_SECONDS,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.min_refetch = min_refetch
        self.max_age = max_age
        self._client = client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last finished fetch, successful or not
        self._failing = False
        # One fetch at a time: concurrent requests for an unknown kid share its result.
        self._lock = anyio.Lock()

    async def get(self, kid: str) -> jwt.PyJWK:
        """The key named `kid`, fetching the JWKS again when the kid is unknown or the keys old."""
        key = self._keys.get(kid)
        if key is not None and not self._is_old():
            return key
        # A cached key keeps verifying while the JWKS is slow or down; only an unknown kid waits.
        await self._refresh(wait=key is None)
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._failing:
            raise AuthProviderUnavailable()
        raise TokenInvalid()

    def _is_old(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at > self.max_age

    async def _refresh(self, *, wait: bool) -> None:
        if wait:
            await self._lock.acquire()
        else:
            try:
                self._lock.acquire_nowait()
            except anyio.WouldBlock:
                return
        try:
            if (
                self._attempted_at is not None
                and time.monotonic() - self._attempted_at < self.min_refetch
            ):
                return  # fetched moments ago, perhaps by the request we queued behind
            try:
                keys = await self._fetch()
            except JWKSUnavailable as exc:
                self._failing = True
                logger.warning("Better Auth JWKS fetch from %s failed: %s", self.url, exc)
            else:
                self._keys, self._loaded_at, self._failing = keys, time.monotonic(), False
                logger.info("Better Auth JWKS loaded: %d usable key(s)", len(keys))
            # Set only when the fetch finished: a cancelled request does not throttle the next.
            self._attempted_at = time.monotonic()
        finally:
            self._lock.release()

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        try:
            # The client's timeout is per phase; this bounds the whole exchange.
            with anyio.fail_after(self.timeout):
                response = await self._client.get(self.url)
            response.raise_for_status()
            document = response.json()
        except TimeoutError:
            raise JWKSUnavailable(f"no answer within {self.timeout:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise JWKSUnavailable(f"{type(exc).__name__}: {exc}") from None
        members = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(members, list):
            raise JWKSUnavailable("the response has no `keys` list")
        keys: dict[str, jwt.PyJWK] = {}
        for found in map(usable_key, members):
            if found is not None:
                keys.setdefault(*found)
        return keys


@dataclass(frozen=True)
class Identity:
    """Who a verified token speaks for. email/name are None when the claim is missing or unfit."""

    subject: str
    email: str | None
    name: str | None
    # The token's key on the deny-list (app.accounts.revocations), and when it stops being
    # accepted (`exp` plus the leeway): a stream opened with it ends then.
    key: str = ""
    expires_at: datetime | None = None


def _is_storable(value: str) -> bool:
    """No NUL and no lone surrogates (JSON can carry both): no database column accepts them."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_claim(value: object) -> str | None:
    if not isinstance(value, str) or not _is_storable(value):
        return None
    return value.strip() or None


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    subject = claims["sub"]  # a str: PyJWT checks its type
    if not 0 < len(subject) <= MAX_SUBJECT_LENGTH or not _is_storable(subject):
        raise TokenInvalid()
    # The email is only shown, never used to sign in or to match accounts, so a plausible
    # address is enough; one that is too long is dropped, not cut into a different address.
    email = _text_claim(claims.get("email"))
    if email is not None:
        local, _, domain = email.partition("@")
        email = email.lower() if local and domain and len(email) <= MAX_EMAIL_LENGTH else None
    # A display name may be shortened to fit the column.
    name = _text_claim(claims.get("name"))
    name = name[:MAX_NAME_LENGTH].rstrip() if name else None
    return Identity(subject=subject, email=email, name=name)


def _signing_header(token: str) -> tuple[str, str]:
    """The token's (alg, kid), once its header passed the checks that need no key."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise TokenInvalid() from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if FORBIDDEN_HEADERS.intersection(header) or not isinstance(algorithm, str):
        raise TokenInvalid()
    if algorithm not in ALLOWED_ALGORITHMS or not isinstance(kid, str) or not kid:
        raise TokenInvalid()
    return algorithm, kid


class BetterAuthVerifier:
    """Turns a Better Auth token into a local user; one per application."""

    def __init__(
        self,
        settings: Settings,
        *,
        fetch_timeout: float = FETCH_TIMEOUT_SECONDS,
        min_refetch: float = MIN_REFETCH_SECONDS,
    ) -> None:
        self.config = BetterAuthConfig.from_settings(settings)
        self._client = httpx.AsyncClient(
            timeout=fetch_timeout, follow_redirects=False, headers={"Accept": "application/json"}
        )
        self.keys = JWKSCache(
            self.config.jwks_url,
            client=self._client,
            timeout=fetch_timeout,
            min_refetch=min_refetch,
        )

    async def verify(self, token: str, *, audience: str | list[str] | None = None) -> Identity:
        """The token's identity, once its signature, issuer, audience (the frontend's, unless
        `audience` names another, such as the MCP resource) and expiry check out."""
        algorithm, kid = _signing_header(token)
        key = await self.keys.get(kid)
        if key.algorithm_name != algorithm:
            raise TokenInvalid()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                issuer=self.config.issuer,
                audience=self.config.audience if audience is None else audience,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS, "enforce_minimum_key_length": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired() from None
        except jwt.PyJWTError:  # InvalidTokenError, and InvalidKeyError for a short RSA key
            raise TokenInvalid() from None
        expires_at = datetime.fromtimestamp(int(claims["exp"]) + LEEWAY_SECONDS, UTC)
        deny_key = token_key(token, claims.get("jti"))
        return replace(identity_from_claims(claims), key=deny_key, expires_at=expires_at)

    async def authenticate(
        self,
        token: str,
        *,
        connection: AsyncConnection,
        audience: str | list[str] | None = None,
    ) -> UserPublic:
        """The local user linked to the token's (issuer, sub): created on first sight, with
        email and name refreshed from later tokens. Never merged with a password account."""
        # Verify first: it may wait on the JWKS, and no database transaction is open yet.
        identity = await self.verify(token, audience=audience)
        return await self.linked_user(identity, connection=connection)

    async def linked_user(self, identity: Identity, *, connection: AsyncConnection) -> UserPublic:
        """The local user of a verified identity (see `authenticate`); 401 `session_revoked`
        for a token signed out before its expiry."""
        if await is_revoked(connection=connection, key=identity.key):
            raise SessionRevoked()
        issuer = self.config.issuer
        user = await queries.get_external_user(
            connection=connection, issuer=issuer, subject=identity.subject
        )
        if user is None:
            email = identity.email or ""
            name = identity.name or _name_from_email(email) or FALLBACK_NAME
            user = await queries.create_external_user(
                connection=connection,
                issuer=issuer,
                subject=identity.subject,
                email=email,
                name=name,
            )
        return await queries.update_external_user(
            connection=connection, user=user, email=identity.email, name=identity.name
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _name_from_email(email: str) -> str:
    return email.partition("@")[0][:MAX_NAME_LENGTH].rstrip()
