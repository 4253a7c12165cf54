"""Errors of the lists domain."""

from app.core.errors import AppError


class ListNotFound(AppError):
    status_code = 404
    code = "list_not_found"
    detail = "List not found."


class Forbidden(AppError):
    """A member whose role does not allow this (a member knows the list exists)."""

    status_code = 403
    code = "forbidden"
    detail = "Your role in this list does not allow this."


class InboxProtected(AppError):
    status_code = 422
    code = "inbox_protected"
    detail = "The Inbox cannot be renamed, archived, deleted, shared or moved from the first place."


class LimitReached(AppError):
    status_code = 422
    code = "limit_reached"
    detail = "You own the maximum of 500 lists (the Inbox included)."


class ListPreconditionFailed(AppError):
    """If-Match named a version the list no longer has: nothing was written."""

    status_code = 412
    code = "precondition_failed"
    detail = "If-Match does not match the list's current ETag; nothing was changed."
    documented_headers = {"ETag": "The list's current ETag."}

    def __init__(self, *, current_version: int) -> None:
        super().__init__()
        self.current_version = current_version

    def response_headers(self) -> dict[str, str]:
        return {"ETag": f'"{self.current_version}"'}
