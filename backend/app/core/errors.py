"""The error base class, the errors every route shares, and the handlers that turn every failure
into `{detail, code}` JSON. Each domain defines its own errors on `AppError`."""

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.database import is_unavailable

logger = logging.getLogger("app.errors")

RETRY_AFTER_SECONDS = 5


class ErrorBody(BaseModel):
    """Every non-validation error: a human sentence and a stable machine code."""

    detail: str
    code: str


class AppError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    detail: ClassVar[str] = "The request could not be processed."
    # Headers the response always carries, for the OpenAPI schema: name -> description.
    documented_headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.detail)
        self.message = detail or self.detail
        self.headers = headers or {}

    def response_headers(self) -> dict[str, str]:
        return self.headers


class MalformedBody(AppError):
    """Raised by FastAPI itself (as a 400 HTTPException) for a body that is not even text."""

    code = "bad_request"
    detail = "The request body could not be parsed."


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    detail = "The request body is larger than the 1 MiB limit."


class DatabaseUnavailable(AppError):
    status_code = 503
    code = "database_unavailable"
    detail = "The database is unavailable; try again shortly."
    documented_headers = {"Retry-After": "Seconds to wait before trying again."}

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


# What any route that reads a JSON body can answer besides its own errors.
BODY_ERRORS: tuple[type[AppError], ...] = (MalformedBody, PayloadTooLarge)
HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status_code: int, detail: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code, headers=headers)


def responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for routes: each status with the error body and its codes."""
    by_status: dict[int, list[type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(error.status_code, []).append(error)
    declared: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        declared[status] = {
            "model": ErrorBody,
            "description": "; ".join(f"`{e.code}`: {e.detail}" for e in group),
        }
        headers = {name: spec for e in group for name, spec in header_specs(e).items()}
        if headers:
            declared[status]["headers"] = headers
    return declared


def header_specs(error: type[AppError]) -> dict[str, dict[str, Any]]:
    """OpenAPI header objects for the headers an error's responses always carry."""
    return {
        name: {"description": text, "required": True, "schema": {"type": "string"}}
        for name, text in error.documented_headers.items()
    }


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc.status_code, exc.message, exc.code, exc.response_headers())


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else "The request could not be processed."
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such route."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        detail = "This method is not allowed on this route."
        headers["Allow"] = _allowed_methods(request)
    return error_response(exc.status_code, detail, code, headers)


ROUTABLE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method the path answers to: Starlette names only those of the first route that
    matched the path, so `OPTIONS /api/tasks` would claim `Allow: GET` although POST works.
    HEAD goes wherever GET does (`HeadMiddleware`)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in ROUTABLE_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
    if "GET" in allowed:
        allowed.insert(1, "HEAD")
    return ", ".join(allowed)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # FastAPI's own shape, minus the echoed input (it may hold a password) and the ctx objects
    # that are not JSON.
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    body: dict[str, Any] = {"detail": errors}
    code = getattr(exc, "code", None)
    if isinstance(code, str):  # a rule API.md gives a code (e.g. `invalid_parent`)
        body["code"] = code
    return JSONResponse(body, status_code=422)


def unavailable_response(exc: BaseException) -> JSONResponse:
    """503 `database_unavailable` for an error `is_unavailable` recognises (logged)."""
    logger.warning("database unavailable: %s", type(exc).__name__)
    error = DatabaseUnavailable()
    return error_response(error.status_code, error.message, error.code, error.response_headers())


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):
        return unavailable_response(exc)
    return await _unexpected_error(request, exc)


def internal_error_body(request_id: str | None) -> dict[str, str]:
    """A 500 says nothing about the cause: no traceback, no SQL. The log has the details."""
    return {
        "detail": f"Internal server error; quote request id {request_id} to report it.",
        "code": "internal_error",
    }


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    logger.exception("unhandled error (request id %s)", request_id, exc_info=exc)
    return JSONResponse(internal_error_body(request_id), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error)
    # Anything else is answered by RequestContextMiddleware, which adds the request id.
