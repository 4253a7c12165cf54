"""/mcp on the wire: the SDK's Streamable HTTP app as one exact route of ours, its Host/Origin
checks from our settings, and its refusals in our error format.

The SDK's app is routed at `/mcp` exactly (a Starlette `Route`, not a `Mount`): a mount would
answer `/mcp` with a redirect to `/mcp/`, which many MCP clients do not follow for a POST, and
would hand the SDK a rewritten path.
"""

import json
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import HTTP_CODES, AppError
from app.mcp.auth import Verification, current_verification

MCP_PATH = "/mcp"
EXTRA_HTTP_CODES = {406: "not_acceptable", 421: "misdirected_request", 500: "internal_error"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection for our own addresses, not the SDK's localhost default: the
    Host may be where we listen (HOST:PORT) or MCP_RESOURCE_URL's host; a browser Origin must
    be one of CORS_ORIGINS or the resource's own origin (non-browser clients send none)."""
    hosts = {f"{settings.host}:{settings.port}"}
    if settings.host in {"127.0.0.1", "0.0.0.0", "localhost", "::", "::1"}:
        hosts |= {f"127.0.0.1:{settings.port}", f"localhost:{settings.port}"}
        hosts |= {f"[::1]:{settings.port}"}
    resource = urlsplit(settings.mcp_resource)
    default_port = DEFAULT_PORTS[resource.scheme]
    resource_host = resource.netloc.rpartition("@")[2]
    hosts.add(resource_host)
    if resource.port is None:  # a client may or may not spell out the default port
        hosts.add(f"{resource_host}:{default_port}")
    elif resource.port == default_port:
        hosts.add(resource_host.rsplit(":", 1)[0])
    origins = {f"{resource.scheme}://{resource_host}", *settings.cors_origins}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(hosts),
        allowed_origins=sorted(origins),
    )


class McpEndpoint:
    """The ASGI app behind our `/mcp` route: the SDK's app, with a `Verification` for the token
    check to fill, and its refusals rewritten as `{detail, code}` JSON.

    Two kinds of answer are rewritten: the SDK's 401 (its body names the OAuth error only), as
    the error the token check found (401 `token_expired`, `token_invalid`, ..., or 503 when the
    database or the key provider is down), keeping the `WWW-Authenticate` challenge that points
    at the resource metadata; and its plain-text refusals (bad Host or Origin, body too large).
    JSON-RPC answers, error or not, are the protocol's and pass untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        verification = Verification()
        token = current_verification.set(verification)
        try:
            await self.app(scope, receive, _Rewriter(send, verification).send)
        finally:
            current_verification.reset(token)
            if verification.user_id is not None:  # for the access log
                scope.setdefault("state", {})["user_id"] = str(verification.user_id)


class _Rewriter:
    def __init__(self, send: Send, verification: Verification) -> None:
        self._send = send
        self._verification = verification
        self._held: Message | None = None
        self._body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and _is_refusal(message):
            self._held = message
            return
        if message["type"] == "http.response.body" and self._held is not None:
            self._body += message.get("body", b"")
            if not message.get("more_body", False):
                await self._send_rewritten(self._held)
            return
        await self._send(message)

    async def _send_rewritten(self, start: Message) -> None:
        headers = MutableHeaders(raw=list(start["headers"]))
        status = start["status"]
        if status == 401:
            error: AppError = self._verification.error
            status, detail, code = error.status_code, error.message, error.code
            extra = error.response_headers()
            if status == 401:
                extra.pop("WWW-Authenticate", None)  # the SDK's challenge, with the metadata URL
            else:
                del headers["www-authenticate"]
        else:
            detail = self._body.decode("utf-8", "replace").strip() or "The request was refused."
            code = HTTP_CODES.get(status) or EXTRA_HTTP_CODES.get(status, "http_error")
            extra = {}
        body = json.dumps({"detail": detail, "code": code}).encode()
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body))
        for name, value in extra.items():
            headers[name] = value
        await self._send({**start, "status": status, "headers": headers.raw})
        await self._send({"type": "http.response.body", "body": body})


def _is_refusal(start: Message) -> bool:
    status: int = start["status"]
    if status < 400:
        return False
    content_type = Headers(raw=start["headers"]).get("content-type", "")
    return status == 401 or not content_type.startswith("application/json")
