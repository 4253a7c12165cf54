"""`GET /api/auth/me` on the fast path (`app.core.fast_reads`), and the bearer check the fast
task reads share: only our own access tokens are taken here, every other credential (and any
token that does not verify) goes to the FastAPI route, which answers it as always."""

from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Scope

from app.accounts.personal_tokens import is_personal_token
from app.accounts.sessions import SESSION_USER, Caller
from app.accounts.tokens import ACCESS_ALGORITHM, decode_access_token, token_algorithm
from app.core.config import Settings
from app.core.fast_reads import FastRead, Reader, header
from app.core.models import utcnow

# The members of `UserPublic`, in its order.
USER_MEMBERS = ("id", "email", "name", "created_at", "updated_at", "time_zone")


def access_token_caller(scope: Scope, settings: Settings, *, bridge: bool) -> Caller | None:
    """The caller of one of our access tokens (session not checked yet), or None for anything
    else: no bearer token, a personal or Better Auth token (`bridge`: Better Auth is on), or a
    token that does not verify. Read as `HTTPBearer` and `_verified_caller` read it."""
    authorization = header(scope, b"authorization")
    if not authorization:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or is_personal_token(token):
        return None
    try:
        if bridge and token_algorithm(token) != ACCESS_ALGORITHM:
            return None
        claims = decode_access_token(token, settings=settings)
    except Exception:
        return None
    scope.setdefault("state", {})["user_id"] = str(claims.user_id)  # for the access log
    return Caller(claims.user_id, claims.session_id)


def json_response(content: Any) -> Response:
    """A 200 as FastAPI's JSONResponse sends it (same headers), encoded by orjson. UTC
    instants end in `Z` as pydantic writes them; asyncpg's UUIDs go through `str`."""
    body = orjson.dumps(content, default=str, option=orjson.OPT_UTC_Z)
    return Response(body, media_type="application/json")


async def live_user(reader: Reader, connection: Any, caller: Caller) -> dict[str, Any] | None:
    """The caller's user, read with its session as `get_user_for_session` reads them, when the
    session is live; None when it is not (the route then answers the 401)."""
    values = {"session_id": caller.session_id, "user_id": caller.user_id}
    rows = await reader.fetch(connection, SESSION_USER, values)
    if not rows:
        return None
    user = SESSION_USER.for_driver(reader.dialect).record(rows[0])
    if user["revoked_at"] is not None or user["expires_at"] <= utcnow():
        return None
    return user


def me_read(settings: Settings, *, bridge: bool) -> FastRead:
    """`GET /api/auth/me`: the user behind a live session, in one indexed lookup."""

    async def me(scope: Scope, reader: Reader) -> Response | None:
        caller = access_token_caller(scope, settings, bridge=bridge)
        if caller is None:
            return None
        async with reader.connection() as connection:
            user = await live_user(reader, connection, caller)
        if user is None:
            return None
        return json_response({member: user[member] for member in USER_MEMBERS})

    return FastRead("/api/auth/me", me, path="/api/auth/me")
