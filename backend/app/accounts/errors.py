"""Errors of sign-in, tokens and sessions."""

from app.core.errors import AppError, DatabaseUnavailable


class Unauthorized(AppError):
    status_code = 401
    code = "not_authenticated"
    detail = "Authentication is required."
    documented_headers = {"WWW-Authenticate": "`Bearer`, with the error when a token is refused."}

    def response_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"} | self.headers


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    detail = "The email or password is incorrect."


class TokenExpired(Unauthorized):
    code = "token_expired"
    detail = "The token has expired."

    def response_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'} | self.headers


class TokenInvalid(TokenExpired):
    code = "token_invalid"
    detail = "The token is invalid."


class SessionRevoked(TokenExpired):
    code = "session_revoked"
    detail = "The session has ended; sign in again."


class EmailTaken(AppError):
    status_code = 409
    code = "email_taken"
    detail = "An account with this email already exists."


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"
    detail = "Too many attempts; try again later."
    documented_headers = {"Retry-After": "Seconds to wait before trying again."}

    def __init__(self, retry_after: int):
        super().__init__(headers={"Retry-After": str(max(1, retry_after))})


class AuthProviderUnavailable(DatabaseUnavailable):
    code = "auth_provider_unavailable"
    detail = "The sign-in provider's keys cannot be fetched; try again shortly."


# What any route behind a bearer token can answer.
AUTH_ERRORS: tuple[type[AppError], ...] = (
    Unauthorized,
    TokenInvalid,
    TokenExpired,
    SessionRevoked,
    AuthProviderUnavailable,
)


class PersonalTokenForbidden(AppError):
    status_code = 403
    code = "personal_token_forbidden"
    detail = (
        "A personal access token cannot manage personal access tokens; "
        "sign in with your account instead."
    )


class PersonalTokenNotFound(AppError):
    status_code = 404
    code = "token_not_found"
    detail = "Personal access token not found."


class PersonalTokenLimitReached(AppError):
    status_code = 422
    code = "limit_reached"
    detail = "You have 100 personal access tokens, the most allowed; revoke one first."
