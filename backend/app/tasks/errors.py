"""Errors of the tasks domain."""

from fastapi.exceptions import RequestValidationError

from app.core.errors import AppError


class TaskNotFound(AppError):
    status_code = 404
    code = "task_not_found"
    detail = "Task not found."


class TagNotFound(AppError):
    status_code = 404
    code = "tag_not_found"
    detail = "Tag not found."


def etag(version: int) -> str:
    """A task's strong ETag: its version, quoted."""
    return f'"{version}"'


class PreconditionFailed(AppError):
    """If-Match named a version the task no longer has: nothing was written."""

    status_code = 412
    code = "precondition_failed"
    detail = "If-Match does not match the task's current ETag; nothing was changed."
    documented_headers = {"ETag": "The task's current ETag."}

    def __init__(self, *, current_version: int) -> None:
        super().__init__()
        self.current_version = current_version

    def response_headers(self) -> dict[str, str]:
        return {"ETag": etag(self.current_version)}


class InvalidField(RequestValidationError):
    """A member that is well-formed on its own but invalid for this task or user (a rule that
    never produces a date, a due_time on a task without a due_date): FastAPI's 422, naming the
    member. `field` and `message` serve callers other than HTTP (MCP); `code`, where API.md
    names one (`invalid_parent`, `invalid_move`, `invalid_assignee`), is the error's type and
    the body's `code`."""

    def __init__(self, field: str, message: str, *, code: str | None = None) -> None:
        error_type = code or "value_error"
        super().__init__([{"loc": ("body", field), "msg": message, "type": error_type}])
        self.field = field
        self.message = message
        self.code = code


def invalid_parent(message: str) -> InvalidField:
    return InvalidField("parent_id", message, code="invalid_parent")


def invalid_move(field: str, message: str) -> InvalidField:
    return InvalidField(field, message, code="invalid_move")


def invalid_assignee(message: str = "must be null or a member of the task's list") -> InvalidField:
    return InvalidField("assignee_id", message, code="invalid_assignee")
