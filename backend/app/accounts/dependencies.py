"""Who is calling: the bearer token verified, as FastAPI dependencies."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.errors import Unauthorized
from app.accounts.schemas import UserPublic
from app.accounts.sessions import Caller, get_user_for_session
from app.accounts.tokens import ACCESS_ALGORITHM, decode_access_token, token_algorithm
from app.core.database import ConnectionDep

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
    return await get_user_for_session(
        connection=connection, user_id=caller.user_id, session_id=caller.session_id
    )


async def current_reader(
    request: Request,
    connection: ConnectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Caller:
    """For the task reads only, which check the caller's session in the same statement as the
    data they read (`tasks.queries.list_tasks`, `get_task`): one round trip instead of two on the
    busiest routes. Same 401s as `current_user`, but a bad query parameter is answered 422
    before a dead session is found out."""
    caller, _ = await _verified_caller(request, connection, credentials)
    return caller


# The signed-in user, as read for this request (a snapshot, not a tracked ORM object).
CurrentUser = Annotated[UserPublic, Depends(current_user)]
# The caller of a task read, whose session that read checks itself.
TaskReader = Annotated[Caller, Depends(current_reader)]
