"""HEAD is answered wherever GET is, with GET's status and headers and no body (uptime checkers
use it), by one mechanism rather than route by route."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from string import Formatter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount
from starlette.types import Message

from app.main import create_app
from tests.conftest import PASSWORD, make_settings
from tests.support.server import free_port, running_server, server_env

pytestmark = pytest.mark.anyio

# Headers that differ between any two responses; and the framing of a streamed body, which
# uvicorn adds to a GET (`Transfer-Encoding: chunked`) and rightly not to a HEAD.
PER_RESPONSE = {"date", "x-request-id", "transfer-encoding"}


async def test_head_health_is_200_with_no_body(client: httpx.AsyncClient) -> None:
    head = await client.head("/api/health")
    get = await client.get("/api/health")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["content-type"] == "application/json"


async def test_head_where_get_is_not_allowed_is_405_naming_the_allowed_methods(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.head("/api/auth/login")).status_code == 405
    assert (await client.delete("/api/health")).headers["Allow"] == "GET, HEAD"


async def test_head_of_an_endless_stream_ends_it_after_the_headers(app: FastAPI) -> None:
    """An event stream never ends, and a streaming response need not watch for the client
    leaving (ASGI 2.4 lets it wait for `send` to fail): HEAD must stop it, not wait."""

    async def events() -> AsyncIterator[bytes]:
        while True:
            yield b"data: tick\n\n"
            await asyncio.sleep(0.01)

    @app.get("/api/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    sent: list[Message] = []

    async def client_stays(message: Message) -> None:
        sent.append(message)

    async def never_disconnects() -> Message:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": "/api/stream",
        "raw_path": b"/api/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    async with asyncio.timeout(5):
        await app(scope, never_disconnects, client_stays)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 200
    assert [message.get("body") for message in sent[1:]] == [b""]


def get_paths(values: dict[str, str]) -> list[str]:
    """A URL for every GET route of the app, included routers' too (path parameters from
    `values`, else a random id: a 404 compares as well as a 200), and a file of each mounted
    folder."""
    app = create_app(make_settings("sqlite://"))
    paths = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            paths.append(f"{route.path}/swagger-ui.css")
        elif "GET" in (route.methods or ()):
            names = [name for _, name, _, _ in Formatter().parse(route.path_format) if name]
            paths.append(route.path_format.format(**{n: str(uuid.uuid4()) for n in names} | values))
    return paths


# Bodies that are a live snapshot, different at every request (the request itself is counted):
# their length varies like a Date header.
LIVE_BODIES = {"/metrics"}


def comparable(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    varying = PER_RESPONSE | ({"content-length"} if response.url.path in LIVE_BODIES else set())
    headers = {k: v for k, v in response.headers.items() if k not in varying}
    return response.status_code, headers


def test_every_get_route_answers_head_with_the_same_status_and_headers(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'todo.db'}", free_port())
    with (
        running_server(env, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        account = {"email": "head@example.com", "name": "Head", "password": PASSWORD}
        token = http.post("/api/auth/register", json=account).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        task = http.post("/api/tasks", json={"title": "Checked"}).json()
        paths = get_paths({"task_id": task["id"]})
        assert {"/api/health", "/api/tasks", f"/api/tasks/{task['id']}", "/docs"} <= set(paths)
        for path in paths:
            head = http.head(path)
            with http.stream("GET", path) as get:  # headers only: a stream may never end
                assert comparable(head) == comparable(get), path
            assert head.content == b"", path
