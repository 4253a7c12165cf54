"""Who may call /mcp: personal access tokens, and Better Auth tokens whose audience is the MCP
resource (MCP_RESOURCE_URL). Our own 15-minute access tokens, and Better Auth tokens for the
frontend's audience, are refused: the MCP spec forbids accepting a token issued for another
audience, since this server must not become a way to replay the REST API's tokens."""

import logging
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from app.accounts.better_auth import BetterAuthVerifier
from app.accounts.errors import TokenInvalid, Unauthorized
from app.accounts.personal_tokens import authenticate_personal_token, is_personal_token
from app.accounts.schemas import UserPublic
from app.accounts.sessions import Caller, Credential
from app.accounts.tokens import ACCESS_ALGORITHM, token_algorithm
from app.core.config import Settings
from app.core.database import Database, is_unavailable
from app.core.errors import AppError, DatabaseUnavailable

logger = logging.getLogger(__name__)


class InternalError(AppError):
    status_code = 500
    code = "internal_error"
    detail = "Internal server error."


class NotForThisAudience(TokenInvalid):
    detail = (
        "This token is not accepted at /mcp: use a personal access token, or a Better Auth "
        "token issued for this MCP server."
    )


@dataclass
class Verification:
    """What verifying one request's token found, for the HTTP layer's answer: the SDK's bearer
    middleware only learns "no user", and would answer every refusal alike."""

    error: AppError = field(default_factory=Unauthorized)
    user_id: uuid.UUID | None = None


# Set by the HTTP layer (`app.mcp.http`) around each request to /mcp.
current_verification: ContextVar[Verification | None] = ContextVar("mcp_verification", default=None)


class McpTokenVerifier:
    """The SDK's `TokenVerifier`: a bearer token to the SDK's `AccessToken`, whose `subject` is
    our user's id, or None (answered 401, or 503 when the database or key provider is down)."""

    def __init__(
        self, *, database: Database, better_auth: BetterAuthVerifier | None, resource: str
    ) -> None:
        self.database = database
        self.better_auth = better_auth
        # Tokens name the resource as clients spell it; a trailing slash makes no difference.
        self.audiences = [resource, resource + "/"]

    async def verify_token(self, token: str) -> AccessToken | None:
        verification = current_verification.get() or Verification()
        try:
            user, credential = await self._verify(token)
        except AppError as error:
            verification.error = error
            return None
        except Exception as exc:
            # Answered here: an exception would escape the SDK's app as a plain-text 500.
            if is_unavailable(exc):
                logger.warning("database unavailable: %s", type(exc).__name__)
                verification.error = DatabaseUnavailable()
            else:
                logger.exception("verifying an MCP token failed")
                verification.error = InternalError()
            return None
        verification.user_id = user.id
        return AccessToken(
            token=token, client_id=credential, scopes=[], subject=str(user.id), resource=None
        )

    async def _verify(self, token: str) -> tuple[UserPublic, Credential]:
        # On the reader, as a GET's token check: on SQLite a read takes no lock, and the writes
        # that may follow (`last_used_at`, a Better Auth user linked) call `allow_writes` first.
        if is_personal_token(token):
            async with self.database.admitted(), self.database.reader.connect() as connection:
                use = await authenticate_personal_token(connection=connection, token=token)
                await connection.commit()  # `last_used_at`, when it was due
            return use.user, "personal_token"
        if self.better_auth is None or not _is_asymmetric(token):
            raise NotForThisAudience()
        # Verified before a connection is taken: it may wait on the JWKS.
        identity = await self.better_auth.verify(token, audience=self.audiences)
        async with self.database.admitted(), self.database.reader.connect() as connection:
            user = await self.better_auth.linked_user(identity, connection=connection)
            await connection.commit()  # a first-seen user, a changed name or email
        return user, "better_auth"


def _is_asymmetric(token: str) -> bool:
    """Whether the token's header names an algorithm other than our own HS256 (which the
    Better Auth verifier refuses anyway; this only gives our tokens the clearer message)."""
    return token_algorithm(token) != ACCESS_ALGORITHM


def auth_settings(settings: Settings) -> AuthSettings:
    """The SDK's resource-server settings: its 401s point at our RFC 9728 metadata. The audience
    is checked by `McpTokenVerifier`, hence no `validate_token_resource`."""
    issuer = _authorization_server(settings)
    return AuthSettings(
        # Required by the SDK; only its own metadata route (which we do not serve) reads it.
        issuer_url=issuer or settings.mcp_resource,
        resource_server_url=settings.mcp_resource,
        validate_token_resource=False,
    )


def _authorization_server(settings: Settings) -> str | None:
    if not settings.better_auth_enabled:
        return None
    return settings.better_auth_issuer or (settings.better_auth_url or "").rstrip("/")


def protected_resource_metadata(settings: Settings) -> dict[str, object]:
    """RFC 9728 metadata of /mcp. It names Better Auth as the authorization server when the
    bridge is on; without one, clients are configured with a personal access token instead."""
    metadata: dict[str, object] = {"resource": settings.mcp_resource}
    issuer = _authorization_server(settings)
    if issuer:
        metadata["authorization_servers"] = [issuer]
    metadata["bearer_methods_supported"] = ["header"]
    metadata["resource_name"] = "Todo API"
    return metadata


def current_caller() -> Caller:
    """The caller of the tool being run, from the token the SDK verified for this request."""
    access_token = get_access_token()
    if access_token is None or access_token.subject is None:  # /mcp requires a token
        raise RuntimeError("an MCP tool ran without a verified token")
    credential: Credential = (
        "personal_token" if access_token.client_id == "personal_token" else "better_auth"
    )
    return Caller(uuid.UUID(access_token.subject), None, credential)
