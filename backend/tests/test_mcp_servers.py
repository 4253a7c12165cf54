"""/mcp on real running servers (`python -m app run`, uvicorn): two instances behind a
round-robin balancer with no sticky routing, and personal tokens over plain HTTP."""

import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.database import parse_database_url
from tests.conftest import PASSWORD, TEST_DATABASE_URL
from tests.support.mcp import call, mcp_client
from tests.support.server import Server, free_port, server_env, start_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-servers")


# Module-scoped: starting two servers takes seconds, and every test makes users of its own.
@pytest.fixture(scope="module")
async def shared_database_url(server_dir: Path) -> AsyncIterator[str]:
    """One database for several server processes: a SQLite file, or on the PostgreSQL run a
    database of its own (the servers migrate it at start), dropped afterwards."""
    if TEST_DATABASE_URL is None:
        yield f"sqlite:///{server_dir / 'shared.db'}"
        return
    name = f"mcp_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(
        parse_database_url(TEST_DATABASE_URL).url, isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(TEST_DATABASE_URL).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="module")
def two_servers(shared_database_url: str, server_dir: Path) -> Iterator[list[Server]]:
    ports = [free_port(), free_port()]
    # Both instances serve one public MCP URL: the balancer's (here: the first instance's).
    resource = f"http://127.0.0.1:{ports[0]}/mcp"
    servers: list[Server] = []
    try:
        for index, port in enumerate(ports):
            env = server_env(shared_database_url, port, mcp_resource_url=resource)
            servers.append(start_server(env, server_dir / f"server-{index}.log"))
        yield servers
    finally:
        for server in servers:
            server.stop()


class RoundRobin(httpx2.AsyncHTTPTransport):
    """A load balancer without sticky routing: each request goes to the next instance."""

    def __init__(self, servers: list[Server]) -> None:
        super().__init__()
        self.ports = itertools.cycle([httpx2.URL(server.base_url).port for server in servers])
        self.served: Counter[int] = Counter()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self.ports)
        request.url = request.url.copy_with(port=port)
        response = await super().handle_async_request(request)
        self.served[port] += 1
        return response


def personal_token(base_url: str) -> str:
    """Register a user and create a personal token over plain HTTP, as a script would."""
    email = f"mcp-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "name": "MCP user", "password": PASSWORD}
    auth = httpx.post(f"{base_url}/api/auth/register", json=body).json()
    headers = {"Authorization": f"Bearer {auth['access_token']}"}
    created = httpx.post(f"{base_url}/api/auth/tokens", json={"name": "cli"}, headers=headers)
    assert created.status_code == 201, created.text
    token: str = created.json()["token"]
    return token


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_calls_alternating_between_two_instances_all_succeed(
    two_servers: list[Server], mode: str
) -> None:
    token = personal_token(two_servers[0].base_url)
    balancer = RoundRobin(two_servers)
    http = httpx2.AsyncClient(
        transport=balancer, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    base_url = two_servers[0].base_url
    async with (
        http,
        Client(
            streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode, cache=None
        ) as mcp,
    ):
        tools = await mcp.list_tools()
        assert len(tools.tools) == 11
        ids = []
        for number in range(6):
            task = await call(mcp, "create_task", {"task": {"title": f"Task {number}"}})
            ids.append(task["id"])
        for task_id in ids:
            assert (await call(mcp, "complete_task", {"task_id": task_id}))["completed"] is True
            assert (await call(mcp, "get_task", {"task_id": task_id}))["completed"] is True
        listed = await call(mcp, "list_tasks", {"status": "completed", "limit": 100})
        assert sorted(task["id"] for task in listed["tasks"]) == sorted(ids)
        for task_id in ids:
            await call(mcp, "delete_task", {"task_id": task_id})
        assert (await call(mcp, "list_tasks"))["total"] == 0
    assert len(balancer.served) == 2
    assert min(balancer.served.values()) >= 10, balancer.served


async def test_a_personal_token_over_plain_http(two_servers: list[Server]) -> None:
    """What `curl -H "Authorization: Bearer todo_pat_..."` does against a running server."""
    base_url = two_servers[0].base_url
    token = personal_token(base_url)
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{base_url}/api/tasks", json={"title": "From curl"}, headers=headers)
    assert created.status_code == 201
    listed = httpx.get(f"{base_url}/api/tasks", headers=headers)
    assert [task["title"] for task in listed.json()] == ["From curl"]
    # The other instance knows the token too: it is in the shared database.
    other = httpx.get(f"{two_servers[1].base_url}/api/tasks", headers=headers)
    assert other.json() == listed.json()
    another = httpx.post(f"{base_url}/api/auth/tokens", json={"name": "more"}, headers=headers)
    assert another.status_code == 403
    assert another.json()["code"] == "personal_token_forbidden"

    # And the same token is the MCP server's bearer.
    async with mcp_client(base_url, token) as mcp:
        assert (await call(mcp, "list_tasks"))["total"] == 1
    no_token = httpx.post(
        f"{base_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )
    assert no_token.status_code == 401
    assert (
        f'resource_metadata="{base_url}/.well-known/oauth-protected-resource/mcp"'
        in no_token.headers["www-authenticate"]
    )
