"""The MCP server at /mcp, driven by the official SDK's own client over Streamable HTTP through
the ASGI app: tools and their schemas, the task round trip, filters, isolation, tool errors,
and who may call it at all."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from mcp.shared.exceptions import MCPError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import PersonalAccessToken
from app.core.config import Settings
from app.core.models import utcnow
from app.main import create_app
from tests.conftest import bearer, make_client, make_settings, register
from tests.support.mcp import assert_refused, call, call_error, mcp_client

pytestmark = pytest.mark.anyio

RESOURCE = "http://testserver/mcp"
METADATA_URL = "http://testserver/.well-known/oauth-protected-resource/mcp"
TOOLS = {
    "list_tasks",
    "get_task",
    "create_task",
    "update_task",
    "complete_task",
    "reopen_task",
    "delete_task",
    "list_tags",
    "list_lists",
    "create_list",
    "move_task",
}
# A JSON-RPC request any MCP client could send first (2026-07-28: no handshake needed).
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
# Far below the 5 s busy_timeout a call that waited for SQLite's write lock would take.
NO_WAIT_SECONDS = 2.0


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The test client's host: /mcp checks the Host header against MCP_RESOURCE_URL.
    return make_settings(database_url, mcp_resource_url=RESOURCE)


@pytest.fixture
async def running_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app with its lifespan entered, as a server runs it (the MCP session manager)."""
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(running_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(running_app) as client:
        yield client


async def personal_token(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> str:
    response = await client.post("/api/auth/tokens", json={"name": "mcp", **body}, headers=headers)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


@pytest.fixture
async def token(client: httpx.AsyncClient, auth_headers: dict[str, str]) -> str:
    return await personal_token(client, auth_headers)


async def test_tools_are_listed_with_schemas_and_annotations(
    running_app: FastAPI, token: str
) -> None:
    async with mcp_client(running_app, token) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description, tool.name
        assert tool.input_schema["type"] == "object"
    for name in ("list_tasks", "get_task", "list_tags", "list_lists"):
        assert tools[name].annotations.read_only_hint is True, name
    for name in TOOLS - {"list_tasks", "get_task", "list_tags", "list_lists"}:
        assert tools[name].annotations.read_only_hint is False, name
    assert tools["delete_task"].annotations.destructive_hint is True
    assert tools["create_task"].annotations.destructive_hint is False

    # Completing a recurring task twice moves it twice: not idempotent.
    for name in ("create_task", "update_task", "complete_task"):
        assert not tools[name].annotations.idempotent_hint, name

    create = tools["create_task"].input_schema
    task = create["$defs"]["NewTask"]
    assert create["required"] == ["task"]
    assert task["required"] == ["title"]
    assert task["properties"]["title"]["maxLength"] == 200
    assert create["$defs"]["Priority"]["enum"] == ["High", "Medium", "Low"]
    v2_members = {"due_date", "due_time", "time_zone", "recurrence", "remind_at", "tags"}
    assert v2_members <= set(task["properties"])
    changes = tools["update_task"].input_schema["$defs"]["TaskChanges"]["properties"]
    assert v2_members <= set(changes)
    assert tools["update_task"].input_schema["required"] == ["task_id", "changes"]
    # Every member a model fills in says what it is.
    for members in (task["properties"], changes):
        for name, member in members.items():
            assert member.get("description"), name
    assert "FREQ=WEEKLY" in task["properties"]["recurrence"]["description"]
    assert "IANA" in task["properties"]["time_zone"]["description"]
    assert "Europe/Paris" in str(task["properties"]["time_zone"])
    listing = tools["list_tasks"].input_schema["properties"]
    filters = {"tag", "due_after", "due_before", "has_due", "overdue", "series_id"}
    assert {"status", "search", "priority", "sort", "page", "limit"} | filters <= set(listing)
    assert all(listing[name].get("description") for name in listing)
    assert {"due", "-due"} <= set(listing["sort"]["enum"])
    assert listing["limit"]["maximum"] == 100
    assert tools["get_task"].input_schema["properties"]["task_id"]["format"] == "uuid"
    # No tool carries the REST schema's list of ~600 zone names: a zone is a described string.
    for tool in tools.values():
        assert max(map(len, _enums(tool.input_schema)), default=0) <= 20, tool.name  # sort has 11


def _enums(schema: Any) -> list[list[Any]]:
    if isinstance(schema, dict):
        found = [schema["enum"]] if "enum" in schema else []
        return found + [enum for value in schema.values() for enum in _enums(value)]
    if isinstance(schema, list):
        return [enum for value in schema for enum in _enums(value)]
    return []


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_task_round_trip_through_the_tools(
    running_app: FastAPI,
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    token: str,
    mode: str,
) -> None:
    """`auto` speaks the stateless 2026-07-28 protocol; `legacy` the initialize handshake
    that older clients (Claude Desktop's today) use. Both work against any instance."""
    async with mcp_client(running_app, token, mode=mode) as mcp:
        created = await call(
            mcp, "create_task", {"task": {"title": "Buy milk", "priority": "High"}}
        )
        assert created["title"] == "Buy milk"
        assert created["priority"] == "High"
        assert created["completed"] is False
        task_id = created["id"]
        # The REST API sees the same task: one service layer.
        rest = await client.get(f"/api/tasks/{task_id}", headers=auth_headers)
        assert rest.json() == created

        fetched = await call(mcp, "get_task", {"task_id": task_id})
        assert fetched == created
        updated = await call(
            mcp, "update_task", {"task_id": task_id, "changes": {"description": "2 litres"}}
        )
        assert updated["description"] == "2 litres"
        assert updated["title"] == "Buy milk"  # untouched: only `changes` change
        assert updated["updated_at"] > created["updated_at"]
        cleared = await call(
            mcp, "update_task", {"task_id": task_id, "changes": {"description": None}}
        )
        assert cleared["description"] is None

        assert (await call(mcp, "complete_task", {"task_id": task_id}))["completed"] is True
        done = await call(mcp, "list_tasks", {"status": "completed"})
        assert [task["id"] for task in done["tasks"]] == [task_id]
        assert (await call(mcp, "reopen_task", {"task_id": task_id}))["completed"] is False

        assert await call(mcp, "delete_task", {"task_id": task_id}) == {"deleted": task_id}
        text = await call_error(mcp, "get_task", {"task_id": task_id})
        assert "task not found" in text.lower()
    assert (await client.get(f"/api/tasks/{task_id}", headers=auth_headers)).status_code == 404


async def test_list_tasks_filters_sorts_and_pages(running_app: FastAPI, token: str) -> None:
    async with mcp_client(running_app, token) as mcp:
        for title, priority in [("Alpha report", "Low"), ("Beta call", "High"), ("Gamma", "High")]:
            await call(mcp, "create_task", {"task": {"title": title, "priority": priority}})
        gamma = (await call(mcp, "list_tasks", {"search": "gamma"}))["tasks"][0]
        await call(mcp, "complete_task", {"task_id": gamma["id"]})

        def titles(page: dict[str, Any]) -> list[str]:
            return [task["title"] for task in page["tasks"]]

        everything = await call(mcp, "list_tasks")
        assert titles(everything) == ["Gamma", "Beta call", "Alpha report"]  # newest first
        assert everything["total"] == 3
        assert titles(await call(mcp, "list_tasks", {"status": "active"})) == [
            "Beta call",
            "Alpha report",
        ]
        assert titles(await call(mcp, "list_tasks", {"priority": "High"})) == ["Gamma", "Beta call"]
        assert titles(await call(mcp, "list_tasks", {"search": "REPORT"})) == ["Alpha report"]
        assert titles(await call(mcp, "list_tasks", {"sort": "title"})) == [
            "Alpha report",
            "Beta call",
            "Gamma",
        ]
        first = await call(mcp, "list_tasks", {"sort": "title", "limit": 2})
        assert (titles(first), first["total"], first["has_more"]) == (
            ["Alpha report", "Beta call"],
            3,
            True,
        )
        second = await call(mcp, "list_tasks", {"sort": "title", "limit": 2, "page": 2})
        assert (titles(second), second["has_more"]) == (["Gamma"], False)
        assert await call(mcp, "list_tags") == {"tags": []}


async def test_another_users_tasks_are_not_found(
    running_app: FastAPI,
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    other_user_headers: dict[str, str],
) -> None:
    theirs = await client.post("/api/tasks", json={"title": "Private"}, headers=auth_headers)
    task = theirs.json()
    intruder = await personal_token(client, other_user_headers)
    async with mcp_client(running_app, intruder) as mcp:
        assert (await call(mcp, "list_tasks"))["tasks"] == []
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("get_task", {}),
            ("update_task", {"changes": {"title": "Mine now"}}),
            ("complete_task", {}),
            ("reopen_task", {}),
            ("delete_task", {}),
        ]
        texts = {}
        for tool, arguments in attempts:
            texts[tool] = await call_error(mcp, tool, {"task_id": task["id"], **arguments})
            assert "task not found" in texts[tool].lower(), tool
        unknown = await call_error(mcp, "get_task", {"task_id": str(uuid.uuid4())})
        assert unknown == texts["get_task"]  # indistinguishable from a task that does not exist
    after = await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)
    assert after.json() == task


async def test_bad_arguments_are_tool_errors_that_name_the_field(
    running_app: FastAPI, token: str
) -> None:
    async with mcp_client(running_app, token) as mcp:
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("create_task", {"task": {"title": ""}}, "title"),
            ("create_task", {"task": {"title": "x" * 201}}, "title"),
            ("create_task", {"task": {"title": "ok", "priority": "Urgent"}}, "priority"),
            ("create_task", {}, "task"),
            ("update_task", {"task_id": str(uuid.uuid4()), "changes": {"title": None}}, "title"),
            ("get_task", {"task_id": "not-a-uuid"}, "task_id"),
            ("list_tasks", {"limit": 0}, "limit"),
            ("list_tasks", {"sort": "colour"}, "sort"),
            ("list_tasks", {"status": "someday"}, "status"),
        ]
        for tool, arguments, field in cases:
            text = await call_error(mcp, tool, arguments)
            assert field in text, (tool, text)
            assert "Traceback" not in text
        assert (await call(mcp, "list_tasks"))["total"] == 0  # nothing half-written


async def test_mcp_without_a_token_is_401_pointing_at_the_resource_metadata(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        response = await client.post("/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, **headers})
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        assert f'resource_metadata="{METADATA_URL}"' in challenge
        assert response.json()["code"] == "not_authenticated"
        assert response.json()["detail"]

    metadata = await client.get("/.well-known/oauth-protected-resource/mcp")
    assert metadata.status_code == 200
    body = metadata.json()
    assert body["resource"] == RESOURCE
    assert body["bearer_methods_supported"] == ["header"]
    assert "authorization_servers" not in body  # no Better Auth configured: tokens only


async def test_our_access_tokens_are_refused_at_mcp(
    running_app: FastAPI, client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    """A 15-minute access token is for the REST API: the MCP spec forbids accepting a token
    issued for another audience."""
    response = await client.post("/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, **auth_headers})
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert "resource_metadata=" in response.headers["www-authenticate"]
    access_token = auth_headers["Authorization"].removeprefix("Bearer ")
    await assert_refused(running_app, access_token)


async def test_a_revoked_token_fails_at_once(
    running_app: FastAPI, client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    created = await client.post("/api/auth/tokens", json={"name": "x"}, headers=auth_headers)
    token, token_id = created.json()["token"], created.json()["id"]
    async with mcp_client(running_app, token) as mcp:
        await call(mcp, "list_tasks")
        revoked = await client.delete(f"/api/auth/tokens/{token_id}", headers=auth_headers)
        assert revoked.status_code == 204
        with pytest.raises(MCPError):
            await mcp.call_tool("list_tasks", {})
    response = await client.post(
        "/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


async def test_an_expired_token_fails(
    running_app: FastAPI,
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    engine: AsyncEngine,
) -> None:
    created = await client.post(
        "/api/auth/tokens", json={"name": "x", "expires_in_days": 1}, headers=auth_headers
    )
    token = created.json()["token"]
    async with mcp_client(running_app, token) as mcp:
        await call(mcp, "list_tasks")
    async with engine.begin() as connection:
        await connection.execute(
            update(PersonalAccessToken)
            .where(PersonalAccessToken.id == uuid.UUID(created.json()["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await client.post(
        "/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    await assert_refused(running_app, token)


async def test_using_mcp_keeps_the_tokens_last_used_at(
    running_app: FastAPI, client: httpx.AsyncClient, auth_headers: dict[str, str], token: str
) -> None:
    async with mcp_client(running_app, token) as mcp:
        await call(mcp, "list_tasks")
    listed = (await client.get("/api/auth/tokens", headers=auth_headers)).json()
    assert listed[0]["last_used_at"] is not None


@pytest.mark.usefixtures("needs_sqlite")
async def test_mcp_reads_do_not_wait_for_a_writer_on_sqlite(
    running_app: FastAPI, engine: AsyncEngine, token: str
) -> None:
    """The token check reads like any GET: a deferred transaction on SQLite, which takes no
    lock. Only a due `last_used_at` update waits for the write lock."""
    async with mcp_client(running_app, token) as mcp:
        await call(mcp, "create_task", {"task": {"title": "Seen"}})  # the use is recorded
        async with engine.connect() as writer:
            await writer.execute(update(PersonalAccessToken).values(name="held"))  # the lock
            async with asyncio.timeout(NO_WAIT_SECONDS):
                page = await call(mcp, "list_tasks")
                tags = await call(mcp, "list_tags")
            await writer.rollback()
    assert [task["title"] for task in page["tasks"]] == ["Seen"]
    assert tags == {"tags": []}


async def test_foreign_hosts_and_origins_are_refused(client: httpx.AsyncClient, token: str) -> None:
    """DNS-rebinding protection, from our settings: Host must be ours, a browser Origin one we
    allow (CORS_ORIGINS or the resource's own)."""
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    wrong_host = await client.post(
        "/mcp", json=LIST_TOOLS, headers={**headers, "Host": "evil.example"}
    )
    assert wrong_host.status_code == 421
    assert wrong_host.json()["code"] == "misdirected_request"
    wrong_origin = await client.post(
        "/mcp", json=LIST_TOOLS, headers={**headers, "Origin": "http://evil.example"}
    )
    assert wrong_origin.status_code == 403
    assert wrong_origin.json()["detail"] == "Invalid Origin header"
    for origin in ("http://testserver", "http://localhost:3000"):
        allowed = await client.post("/mcp", json=LIST_TOOLS, headers={**headers, "Origin": origin})
        assert allowed.status_code == 200, origin


async def test_mcp_answers_at_its_exact_path(client: httpx.AsyncClient, token: str) -> None:
    """No redirect between /mcp and /mcp/ (MCP clients do not follow one for a POST)."""
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    response = await client.post("/mcp", json=LIST_TOOLS, headers=headers)
    assert response.status_code == 200
    assert {tool["name"] for tool in response.json()["result"]["tools"]} == TOOLS
    assert (await client.put("/mcp", json=LIST_TOOLS, headers=headers)).status_code == 405


async def test_get_and_head_on_mcp_answer_at_once(client: httpx.AsyncClient, token: str) -> None:
    """A stateless server has nothing to push: no event stream that would stay open forever."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    for method in ("GET", "HEAD", "DELETE"):
        with anyio.fail_after(5):
            response = await client.request(method, "/mcp", headers=headers)
        assert response.status_code == 405, method
        assert response.headers["Allow"] == "POST"


async def test_logging_out_does_not_end_personal_tokens(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    auth = await register(client)
    token = await personal_token(client, bearer(auth))
    await client.post("/api/auth/logout", json={"refresh_token": auth["refresh_token"]})
    async with mcp_client(running_app, token) as mcp:
        assert (await call(mcp, "list_tasks"))["total"] == 0


async def test_an_unreachable_database_is_503_not_401(database_url: str) -> None:
    """The token cannot be checked: the client should retry, not drop its token."""
    down = make_settings(
        "postgresql://postgres@127.0.0.1:9/none", mcp_resource_url=RESOURCE, db_connect_timeout=1
    )
    app = create_app(down)
    async with app.router.lifespan_context(app), make_client(app) as client:
        response = await client.post(
            "/mcp",
            json=LIST_TOOLS,
            headers={**MCP_HEADERS, "Authorization": "Bearer todo_pat_" + "x" * 43},
        )
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"]


async def test_a_recurring_task_completed_through_complete_task(
    running_app: FastAPI, client: httpx.AsyncClient, auth_headers: dict[str, str], token: str
) -> None:
    today = datetime.now(UTC).date()  # the user's zone is UTC by default
    async with mcp_client(running_app, token) as mcp:
        task = await call(
            mcp,
            "create_task",
            {
                "task": {
                    "title": "Water the plants",
                    "due_date": today.isoformat(),
                    "due_time": "09:00",
                    "recurrence": "FREQ=DAILY",
                    "tags": ["home"],
                }
            },
        )
        moved = await call(mcp, "complete_task", {"task_id": task["id"]})
        # The recurring task stays open and moves to its next occurrence.
        assert moved["id"] == task["id"]
        assert moved["completed"] is False
        assert moved["due_date"] == (today + timedelta(days=1)).isoformat()
        assert moved["due_time"] == "09:00"
        assert moved["recurrence"] == "FREQ=DAILY"
        assert moved["version"] == task["version"] + 1
        # The occurrence done is a completed copy in the task's series.
        copies = await call(mcp, "list_tasks", {"series_id": task["id"]})
        [copy] = copies["tasks"]
        assert copy["completed"] is True
        assert copy["due_date"] == today.isoformat()
        assert copy["title"] == "Water the plants"
        assert copy["tags"] == ["home"]
        assert copy["recurrence"] is None
        assert copy["series_id"] == task["id"]
        assert await call(mcp, "list_tags") == {"tags": [{"name": "home", "count": 2}]}
    rest = await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)
    assert rest.json() == moved


async def test_list_tasks_takes_the_v2_filters(running_app: FastAPI, token: str) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    async with mcp_client(running_app, token) as mcp:
        created = {}
        for title, fields in [
            ("A", {"due_date": "2030-01-10", "tags": ["Work", "urgent"]}),
            ("B", {"due_date": "2030-02-01", "tags": ["work"]}),
            ("C", {}),
            ("D", {"due_date": yesterday}),
        ]:
            task = await call(mcp, "create_task", {"task": {"title": title, **fields}})
            created[title] = task

        async def titles(**arguments: Any) -> list[str]:
            page = await call(mcp, "list_tasks", {"sort": "title", **arguments})
            return [task["title"] for task in page["tasks"]]

        assert created["B"]["tags"] == ["Work"]  # the case first used
        assert await titles(tag=["WORK"]) == ["A", "B"]
        assert await titles(tag=["work", "urgent"]) == ["A"]
        assert await titles(due_after="2030-01-15") == ["B"]
        assert await titles(due_before="2030-01-31") == ["A", "D"]
        assert await titles(has_due=False) == ["C"]
        assert await titles(overdue=True) == ["D"]
        assert await titles(search="urgent") == ["A"]  # search matches tags
        by_due = await call(mcp, "list_tasks", {"sort": "due"})
        assert [task["title"] for task in by_due["tasks"]] == ["D", "A", "B", "C"]
        tags = await call(mcp, "list_tags")
        assert tags == {"tags": [{"name": "urgent", "count": 1}, {"name": "Work", "count": 2}]}


async def test_v2_field_errors_name_the_field(running_app: FastAPI, token: str) -> None:
    async with mcp_client(running_app, token) as mcp:
        undated = await call(mcp, "create_task", {"task": {"title": "Undated"}})
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("create_task", {"task": {"title": "x", "due_time": "09:00"}}, "due_time"),
            (
                "create_task",
                {"task": {"title": "x", "due_date": "2030-01-01", "time_zone": "Mars/Base"}},
                "time_zone",
            ),
            (
                "create_task",
                {"task": {"title": "x", "due_date": "2030-01-01", "recurrence": "FREQ=HOURLY"}},
                "recurrence",
            ),
            (
                "update_task",
                {"task_id": undated["id"], "changes": {"recurrence": "FREQ=DAILY"}},
                "recurrence",
            ),
            ("list_tasks", {"due_after": "yesterday"}, "due_after"),
        ]
        for tool, arguments, field in cases:
            text = await call_error(mcp, tool, arguments)
            assert field in text, (tool, text)
        assert (await call(mcp, "list_tasks"))["total"] == 1


async def test_expected_version_guards_writes_against_changes_made_meanwhile(
    running_app: FastAPI, client: httpx.AsyncClient, auth_headers: dict[str, str], token: str
) -> None:
    async with mcp_client(running_app, token) as mcp:
        task = await call(mcp, "create_task", {"task": {"title": "Plan", "tags": ["work"]}})
        # Someone else changes it after the assistant read it.
        url = f"/api/tasks/{task['id']}"
        await client.patch(url, json={"title": "Plan v2"}, headers=auth_headers)
        for tool, arguments in [
            ("update_task", {"changes": {"title": "Mine"}}),
            ("complete_task", {}),
            ("delete_task", {}),
        ]:
            text = await call_error(
                mcp, tool, {"task_id": task["id"], "expected_version": 1, **arguments}
            )
            assert "version 2" in text, (tool, text)
        current = await call(mcp, "get_task", {"task_id": task["id"]})
        assert (current["title"], current["completed"], current["version"]) == ("Plan v2", False, 2)

        updated = await call(
            mcp,
            "update_task",
            {"task_id": task["id"], "changes": {"title": "Mine"}, "expected_version": 2},
        )
        assert (updated["title"], updated["version"]) == ("Mine", 3)
        assert await call(mcp, "delete_task", {"task_id": task["id"], "expected_version": 3}) == {
            "deleted": task["id"]
        }
    assert (await client.get(url, headers=auth_headers)).status_code == 404


async def test_lists_subtasks_and_moves_through_the_tools(
    running_app: FastAPI,
    client: httpx.AsyncClient,
    token: str,
    other_user_headers: dict[str, str],
) -> None:
    theirs = await client.post("/api/lists", json={"name": "Theirs"}, headers=other_user_headers)
    async with mcp_client(running_app, token) as mcp:
        [inbox] = (await call(mcp, "list_lists"))["lists"]
        assert inbox["is_inbox"] is True
        work = await call(mcp, "create_list", {"name": "Work", "color": "#AA00FF"})
        assert work["color"] == "#aa00ff"
        parent = await call(mcp, "create_task", {"task": {"title": "p", "list_id": work["id"]}})
        child = await call(mcp, "create_task", {"task": {"title": "c", "parent_id": parent["id"]}})
        assert child["list_id"] == work["id"]
        other = await call(mcp, "create_task", {"task": {"title": "o", "list_id": work["id"]}})
        moved = await call(mcp, "move_task", {"task_id": other["id"], "before_id": parent["id"]})
        assert moved["position"] < parent["position"]
        page = await call(mcp, "list_tasks", {"list_id": [work["id"]], "sort": "position"})
        assert [task["title"] for task in page["tasks"]] == ["o", "p", "c"]
        children = await call(mcp, "list_tasks", {"parent_id": parent["id"]})
        assert [task["title"] for task in children["tasks"]] == ["c"]
        to_top = await call(mcp, "move_task", {"task_id": child["id"], "parent_id": "top"})
        assert to_top["parent_id"] is None

        cycle = await call_error(
            mcp, "move_task", {"task_id": parent["id"], "parent_id": parent["id"]}
        )
        assert "parent_id" in cycle
        both = await call_error(
            mcp,
            "move_task",
            {"task_id": parent["id"], "before_id": other["id"], "after_id": child["id"]},
        )
        assert "after_id" in both
        foreign = theirs.json()["id"]
        for tool, arguments in [
            ("create_task", {"task": {"title": "x", "list_id": foreign}}),
            ("move_task", {"task_id": parent["id"], "list_id": foreign}),
            ("list_tasks", {"list_id": [foreign]}),
        ]:
            text = await call_error(mcp, tool, arguments)
            assert "list not found" in text.lower(), (tool, text)
        bad_name = await call_error(mcp, "create_list", {"name": ""})
        assert "name" in bad_name
