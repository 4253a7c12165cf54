"""The official MCP SDK's own client (`mcp.Client` over its Streamable HTTP transport), pointed
at the app in-process (ASGI) or at a running server, with a bearer token."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

ASGI_BASE_URL = "http://testserver"


@asynccontextmanager
async def mcp_client(
    target: Any, token: str | None, *, mode: str = "auto", base_url: str = ASGI_BASE_URL
) -> AsyncIterator[Client]:
    """A connected client. `target` is the ASGI app, or a server's base URL (a str)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(target, str):
        base_url, transport = target, None
    else:
        transport = httpx2.ASGITransport(app=target)
    http = httpx2.AsyncClient(transport=transport, base_url=base_url, headers=headers, timeout=30)
    # cache=None: every call reaches the server (a cached tools/list would hide a revoked token).
    client = Client(
        streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode, cache=None
    )
    async with http, client:
        yield client


async def call(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    """A tool's structured result; fails the test if the tool reported an error."""
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, error_text(result)
    return result.structured_content


async def call_error(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> str:
    """The text of a tool call that must fail as a tool error (isError), not a protocol error."""
    result = await client.call_tool(tool, arguments or {})
    assert result.is_error, result.structured_content
    return error_text(result)


def error_text(result: CallToolResult) -> str:
    return " ".join(part.text for part in result.content if isinstance(part, TextContent))


async def assert_refused(target: Any, token: str | None, **client_options: Any) -> None:
    """Connecting with `token` and listing the tools fails with the SDK's MCPError (which the
    client raises inside an exception group when it fails while connecting)."""
    with pytest.raises((MCPError, BaseExceptionGroup)) as raised:
        async with mcp_client(target, token, **client_options) as client:
            await client.list_tools()
    assert _holds(raised.value, MCPError), repr(raised.value)


def _holds(exc: BaseException, kind: type[BaseException]) -> bool:
    if isinstance(exc, kind):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_holds(inner, kind) for inner in exc.exceptions)
    return False
