"""/api/auth: register, login, refresh, logout, me; personal access tokens."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.accounts import personal_tokens, revocations, service
from app.accounts.dependencies import CredentialManager, CurrentUser, TaskReader
from app.accounts.errors import (
    AUTH_ERRORS,
    EmailTaken,
    InvalidCredentials,
    PersonalTokenForbidden,
    PersonalTokenLimitReached,
    PersonalTokenNotFound,
    RateLimited,
    SessionRevoked,
    TokenExpired,
    TokenInvalid,
)
from app.accounts.schemas import (
    AuthResponse,
    LoginRequest,
    PersonalTokenCreate,
    PersonalTokenCreated,
    PersonalTokenPublic,
    RefreshRequest,
    RegisterRequest,
    UserPublic,
    UserUpdate,
)
from app.accounts.service import AccountContext
from app.accounts.sessions import require_live_session
from app.core.database import ConnectionDep, SessionDep
from app.core.errors import BODY_ERRORS, DatabaseUnavailable, responses

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=responses(DatabaseUnavailable))

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def account_context(request: Request) -> AccountContext:
    context: AccountContext = request.app.state.accounts
    return context


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


Context = Annotated[AccountContext, Depends(account_context)]
Client = Annotated[str, Depends(client_address)]


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=responses(EmailTaken, RateLimited, *BODY_ERRORS),
)
async def register(
    data: RegisterRequest, session: SessionDep, context: Context, client: Client, response: Response
) -> AuthResponse:
    """Create an account and sign it in."""
    response.headers.update(NO_STORE)
    return await service.register(session=session, context=context, data=data, client=client)


@router.post("/login", responses=responses(InvalidCredentials, RateLimited, *BODY_ERRORS))
async def login(
    data: LoginRequest, session: SessionDep, context: Context, client: Client, response: Response
) -> AuthResponse:
    """Sign in with email and password."""
    response.headers.update(NO_STORE)
    return await service.login(session=session, context=context, data=data, client=client)


@router.post(
    "/refresh", responses=responses(TokenInvalid, TokenExpired, SessionRevoked, *BODY_ERRORS)
)
async def refresh(
    data: RefreshRequest, session: SessionDep, context: Context, response: Response
) -> AuthResponse:
    """Exchange a refresh token for a new pair; the old refresh token stops working."""
    response.headers.update(NO_STORE)
    return await service.refresh(session=session, context=context, refresh_token=data.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(TokenInvalid, SessionRevoked, *BODY_ERRORS),
)
async def logout(data: RefreshRequest, session: SessionDep) -> None:
    """End the session the refresh token belongs to, with all its tokens."""
    await service.logout(session=session, refresh_token=data.refresh_token)


@router.post("/revoke", status_code=status.HTTP_204_NO_CONTENT, responses=responses(*AUTH_ERRORS))
async def revoke_token(caller: TaskReader, connection: ConnectionDep) -> None:
    """Sign out the bearer token you present: from now on it answers 401 on every instance,
    and the event streams opened with it end within 5 s. A Better Auth token (what the web app
    calls when you sign out) is refused until its expiry (`session_revoked`); one of our access
    tokens ends its session, as `/logout` does; a personal access token is deleted."""
    await require_live_session(connection=connection, caller=caller)
    await revocations.revoke_caller(connection=connection, caller=caller)


@router.get("/me", responses=responses(*AUTH_ERRORS, DatabaseUnavailable))
async def me(user: CurrentUser) -> UserPublic:
    """The signed-in user."""
    return user


@router.patch("/me", responses=responses(*AUTH_ERRORS, *BODY_ERRORS, DatabaseUnavailable))
async def update_me(data: UserUpdate, user: CurrentUser, connection: ConnectionDep) -> UserPublic:
    """Change the signed-in user's `name` and/or `time_zone`. A new zone moves `due_at` of every
    dated task that has no `time_zone` of its own."""
    return await service.update_profile(connection=connection, user=user, data=data)


# Personal access tokens: managed only with a sign-in credential, never with one of themselves.
TOKEN_MANAGEMENT_ERRORS = (*AUTH_ERRORS, PersonalTokenForbidden)


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    responses=responses(*TOKEN_MANAGEMENT_ERRORS, *BODY_ERRORS, PersonalTokenLimitReached),
)
async def create_personal_token(
    data: PersonalTokenCreate,
    user: CredentialManager,
    connection: ConnectionDep,
    response: Response,
) -> PersonalTokenCreated:
    """Create a personal access token for scripts and AI assistants. The token is in this
    response only: it is stored as a hash."""
    response.headers.update(NO_STORE)
    token = await personal_tokens.create_personal_token(
        connection=connection, owner_id=user.id, data=data
    )
    return PersonalTokenCreated.model_validate(token)


@router.get("/tokens", responses=responses(*TOKEN_MANAGEMENT_ERRORS))
async def list_personal_tokens(
    user: CredentialManager, connection: ConnectionDep
) -> list[PersonalTokenPublic]:
    """Your personal access tokens, newest first (never the tokens themselves)."""
    tokens = await personal_tokens.list_personal_tokens(connection=connection, owner_id=user.id)
    return [PersonalTokenPublic.model_validate(token) for token in tokens]


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*TOKEN_MANAGEMENT_ERRORS, PersonalTokenNotFound),
)
async def revoke_personal_token(
    token_id: uuid.UUID, user: CredentialManager, connection: ConnectionDep
) -> None:
    """Revoke a personal access token: it stops working with the next request."""
    await personal_tokens.revoke_personal_token(
        connection=connection, owner_id=user.id, token_id=token_id
    )
