"""Errors of delta sync, live events and idempotent creation."""

from app.accounts.errors import Unauthorized
from app.core.errors import AppError


class CursorExpired(AppError):
    status_code = 410
    code = "cursor_expired"
    detail = "This cursor is too old or unknown; sync again without one."


class SyncIsReadOnly(AppError):
    status_code = 405
    code = "method_not_allowed"
    detail = "This method is not allowed on this route."

    def response_headers(self) -> dict[str, str]:
        return {"Allow": "GET"}


class TicketInvalid(Unauthorized):
    code = "ticket_invalid"
    detail = "The event ticket is unknown, used or expired; ask for a new one."


class TooManyStreams(AppError):
    status_code = 429
    code = "too_many_streams"
    detail = (
        "Too many open event streams for this user on this instance; close one or try again later."
    )
    documented_headers = {"Retry-After": "Seconds to wait before trying again."}

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": "10"}


class IdempotencyInProgress(AppError):
    status_code = 409
    code = "idempotency_in_progress"
    detail = "A request with this Idempotency-Key is still running; retry shortly."
    documented_headers = {"Retry-After": "Seconds to wait before retrying."}

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class IdempotencyKeyReused(AppError):
    status_code = 422
    code = "idempotency_key_reused"
    detail = "This Idempotency-Key was used with a different request body."
