"""The ASGI middleware every request passes: request id, body limit, headers, access log (and
Starlette's CORS, with its refusals in our error format).

The body limit is ours rather than FastAPI's `max_body_size`: that one sits outside every user
middleware and answers `{"detail": "Content Too Large"}` (or plain text) with neither the
contract's `code: payload_too_large` nor a request id.
"""

import json
import logging
import re
import time
import uuid
from typing import Any

import anyio
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PayloadTooLarge, error_response, internal_error_body
from app.core.metrics import HttpMetrics

access_logger = logging.getLogger("app.access")
error_logger = logging.getLogger("app.errors")

REQUEST_ID_HEADER = "x-request-id"
# A client's request id is echoed only when it is short and harmless in a log line or header.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")
# Control characters (a percent-encoded newline in a path, say) would forge text log lines.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class BodyTooLarge(Exception):
    pass


def _json_error(status: int, body: dict[str, Any], request_id: str) -> tuple[Message, Message]:
    payload = json.dumps(body).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"x-request-id", request_id.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": payload}


class RequestContextMiddleware:
    """Request id, body limit, access log and, with `metrics`, the HTTP metrics: every request
    passes here once, whoever answers it (a route, a fast read, an error handler)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, metrics: HttpMetrics | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        if self.metrics is not None:
            self.metrics.started(self.metrics.method(scope["method"]))
        request_id = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        response_started = False

        declared = self._content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._send_too_large(send, request_id)
            self._log(scope, 413, started, request_id)
            return

        received = 0
        answered_too_large = False

        async def limited_receive() -> Message:
            nonlocal received, answered_too_large, status
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not answered_too_large:
                    # Answer now, while the app is still reading, and stop reading: whatever the
                    # app makes of the error raised below is dropped by `send_with_headers`.
                    answered_too_large = True
                    status = 413
                    await self._send_too_large(send, request_id)
                    raise BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if answered_too_large:
                return
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers["x-content-type-options"] = "nosniff"
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            pass  # already answered 413
        except Exception:
            # Starlette's last-resort handler would answer outside this middleware, without the
            # request id: answer here, generically, and keep the traceback in the log only.
            error_logger.exception("unhandled error (request id %s)", request_id)
            if response_started or answered_too_large:
                raise
            status = 500
            for message in _json_error(500, internal_error_body(request_id), request_id):
                await send(message)
        finally:
            self._log(scope, status, started, request_id)

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = bytes(value).decode("latin-1")
                if SAFE_REQUEST_ID.fullmatch(candidate):
                    return candidate
                break
        return uuid.uuid4().hex

    @staticmethod
    def _content_length(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    @staticmethod
    async def _send_too_large(send: Send, request_id: str) -> None:
        error = PayloadTooLarge()
        body = {"detail": error.message, "code": error.code}
        for message in _json_error(413, body, request_id):
            await send(message)

    def _log(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        """The request is over: its access log line and metrics (called exactly once)."""
        seconds = time.perf_counter() - started
        template: str | None = getattr(scope.get("route"), "path", None)
        if self.metrics is not None:
            self.metrics.finished(self.metrics.method(scope["method"]), template, status, seconds)
        state = scope.get("state", {})
        # A path whose token is the credential (a calendar feed's URL) is logged as its template.
        shown = template if template and "{token}" in template else scope["path"]
        access_logger.info(
            "%s %s %s",
            scope["method"],
            CONTROL_CHARACTERS.sub(lambda c: f"\\x{ord(c.group()):02x}", shown),
            status,
            extra={
                "http": {
                    "method": scope["method"],
                    "path": str(template or scope["path"]),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "request_id": request_id,
                    "user_id": state.get("user_id"),
                }
            },
        )


class HeadMiddleware:
    """HEAD wherever GET (RFC 9110 §9.3.2): the request runs as a GET and its response goes out
    with the same status and headers and no body. One mechanism for every route, mounted apps
    included; the OpenAPI document stays as it is (HEAD is implied by GET). A streamed body
    (an event stream never ends) is cut off after its headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        answered = False

        with anyio.CancelScope() as response:

            async def send_headers_only(message: Message) -> None:
                nonlocal answered
                if message["type"] == "http.response.start":
                    await send(message)
                elif message["type"] == "http.response.body" and not answered:
                    answered = True
                    await send({"type": "http.response.body", "body": b""})
                    if message.get("more_body", False):
                        response.cancel()

            # A copy: the server reads the method of its own scope (uvicorn drops a HEAD body).
            as_get = {**scope, "method": "GET"}
            try:
                await self.app(as_get, receive, send_headers_only)
            finally:
                if "route" in as_get:  # the route template, for the access log
                    scope["route"] = as_get["route"]


class JSONCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with its rejected preflights answered in our JSON error format."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return error_response(400, bytes(response.body).decode(), "cors_rejected", headers)
