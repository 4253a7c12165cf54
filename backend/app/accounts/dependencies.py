"""Who is calling: the bearer token verified, as FastAPI dependencies."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.errors import PersonalTokenForbidden, Unauthorized
from app.accounts.personal_tokens import authenticate_personal_token, is_personal_token
from app.accounts.schemas import UserPublic
from app.accounts.sessions import Caller, get_user_for_session
from app.accounts.tokens import ACCESS_ALGORITHM, decode_access_token, token_algorithm
from app.core.database import ConnectionDep

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="Paste the `access_token` from `/api/auth/register` or `/api/auth/login`, or a "
    "personal access token (`todo_pat_…`).",
)


async def _verified_caller(
    request: Request, connection: AsyncConnection, credentials: HTTPAuthorizationCredentials | None
) -> tuple[Caller, UserPublic | None]:
    """The bearer token verified, and for a Better Auth or personal token also its user. The
    session of one of our access tokens is left to check (`Caller.session_id`)."""
    if credentials is None:
        raise Unauthorized()
    token = credentials.credentials
    better_auth = request.app.state.better_auth
    # Told apart by their prefix, so a JWT never pays for the personal token lookup.
    if is_personal_token(token):
        use = await authenticate_personal_token(connection=connection, token=token)
        user = use.user
        caller = Caller(user.id, None, "personal_token", str(use.token_id), use.expires_at)
    # Without the bridge every other token must be ours: skip parsing the header twice.
    elif better_auth is None or token_algorithm(token) == ACCESS_ALGORITHM:
        claims = decode_access_token(token, settings=request.app.state.settings)
        caller, user = Caller(claims.user_id, claims.session_id), None
    else:
        identity = await better_auth.verify(token)
        user = await better_auth.linked_user(identity, connection=connection)
        caller = Caller(user.id, None, "better_auth", identity.key, identity.expires_at)
    request.state.user_id = str(caller.user_id)
    return caller, user


async def _signed_in(
    request: Request, connection: AsyncConnection, credentials: HTTPAuthorizationCredentials | None
) -> tuple[Caller, UserPublic]:
    caller, user = await _verified_caller(request, connection, credentials)
    if user is not None:
        return caller, user
    assert caller.session_id is not None
    return caller, await get_user_for_session(
        connection=connection, user_id=caller.user_id, session_id=caller.session_id
    )


async def current_user(
    request: Request,
    connection: ConnectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> UserPublic:
    _, user = await _signed_in(request, connection, credentials)
    return user


async def credential_manager(
    request: Request,
    connection: ConnectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> UserPublic:
    """The signed-in user, for the routes that manage credentials. A personal access token is
    refused (403): a leaked one must not be able to mint more, or to hide itself."""
    caller, user = await _signed_in(request, connection, credentials)
    if caller.credential == "personal_token":
        raise PersonalTokenForbidden()
    return user


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
# The signed-in user, by any credential but a personal access token.
CredentialManager = Annotated[UserPublic, Depends(credential_manager)]
