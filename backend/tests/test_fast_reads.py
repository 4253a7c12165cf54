"""The fast reads (`app.core.fast_reads`) answer exactly as the FastAPI routes they stand in
front of: the same requests, asked of the app with them and of the app without them, get the
same status, headers and body, byte for byte, errors included. On PostgreSQL the fast path
answers the ordinary requests (checked); on SQLite it leaves everything to FastAPI."""

import logging
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.fast_reads import FastReads
from app.main import create_app
from tests.conftest import bearer, make_client, register

pytestmark = pytest.mark.anyio

TASKS: list[dict[str, Any]] = [
    {"title": "Plain"},
    {
        "title": 'Café ☕ "quoted" back\\slash',
        "description": "line\nbreak\ttab\u2028é",
        "priority": "High",
    },
    {"title": "Dated", "due_date": "2026-03-09", "tags": ["Work", "errands"]},
    {
        "title": "Timed in a zone",
        "due_date": "2026-03-29",
        "due_time": "02:30",
        "time_zone": "Europe/Berlin",
        "remind_at": "2026-03-28T23:00:00-04:00",
        "tags": ["work"],
    },
    {"title": "Seconds", "due_date": "2027-01-01", "due_time": "09:15:30", "priority": "Low"},
    {
        "title": "Weekly",
        "due_date": "2026-01-05",
        "recurrence": "FREQ=WEEKLY;BYDAY=MO",
        "completed": True,
    },
]


def fast_reads_of(app: Any) -> FastReads:
    layer = app.middleware_stack or app.build_middleware_stack()
    app.middleware_stack = layer
    while not isinstance(layer, FastReads):
        layer = layer.app
    return layer


def access_log(caplog: pytest.LogCaptureFixture) -> list[tuple[str, Any, ...]]:
    """The access log lines since the last call: message and the members that do not vary."""
    lines = [
        (
            r.getMessage(),
            *(r.http[key] for key in ("method", "path", "status", "user_id")),
        )
        for r in caplog.records
        if r.name == "app.access"
    ]
    caplog.clear()
    return lines


async def answer(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]) -> Any:
    response = await client.request(method, url, headers=headers)
    kept = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name != "x-request-id" or "X-Request-ID" in headers
    ]
    return response.status_code, kept, response.content


async def owner_of_tasks(client: httpx.AsyncClient) -> tuple[Any, Any, list[str]]:
    """A user with TASKS (their ids, in order) and another user."""
    owner = await register(client)
    other = await register(client)
    ids = []
    for task in TASKS:
        created = await client.post("/api/tasks", json=task, headers=bearer(owner))
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return owner, other, ids


async def compare(
    requests: list[tuple[str, str, dict[str, str]]],
    client: httpx.AsyncClient,
    plain: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each request answered alike by the app with the fast reads (`client`) and without
    (`plain`): status, headers, body, and the access log line."""
    for method, url, request_headers in requests:
        access_log(caplog)
        expected = await answer(plain, method, url, request_headers)
        expected_log = access_log(caplog)
        assert len(expected_log) == 1
        got = await answer(client, method, url, request_headers)
        assert got == expected, (method, url, request_headers)
        # The same access log line: method, path, status, route template, user.
        assert access_log(caplog) == expected_log, (method, url, request_headers)


@pytest.fixture
async def clients(settings: Settings, engine: AsyncEngine) -> Any:
    fast = create_app(settings, engine=engine)
    plain = create_app(settings, engine=engine, fast_reads=False)
    async with make_client(fast) as fast_client, make_client(plain) as plain_client:
        yield fast, fast_client, plain_client


async def test_fast_reads_answer_as_the_fastapi_routes(
    clients: Any, is_postgres: bool, caplog: pytest.LogCaptureFixture
) -> None:
    fast, client, plain = clients
    caplog.set_level(logging.INFO, logger="app.access")
    owner, other, ids = await owner_of_tasks(client)
    headers = bearer(owner)
    other_task = await client.post("/api/tasks", json={"title": "Not yours"}, headers=bearer(other))
    task_id = ids[3]

    def ask(url: str, **extra: str) -> tuple[str, str, dict[str, str]]:
        return "GET", url, headers | extra

    requests = [
        ask("/api/tasks"),
        ask("/api/tasks?page=2&limit=2&sort=title"),
        ask("/api/tasks?status=active&priority=High&search=caf"),
        ask("/api/tasks?tag=WORK&tag=errands&has_due=true&sort=-due"),
        ask("/api/tasks?overdue=false&due_after=2026-01-01&due_before=2026-12-31"),
        ask("/api/tasks?unknown=1&limit=3&limit=4"),
        ask("/api/tasks?page=99"),  # empty page
        ask("/api/tasks?limit=0"),
        ask("/api/tasks?limit=abc&sort=nope"),
        ask("/api/tasks", Origin="http://localhost:3000"),
        ask("/api/tasks", **{"X-Request-ID": "trace-me-1"}),
        ("HEAD", "/api/tasks", headers),
        ask(f"/api/tasks/{task_id}"),
        ask(f"/api/tasks/{ids[1]}"),
        ask(f"/api/tasks/{ids[4]}", Origin="http://localhost:3000"),
        ask(f"/api/tasks/{task_id.upper()}"),
        ask(f"/api/tasks/{task_id}", **{"If-None-Match": '"1"'}),
        ask(f"/api/tasks/{task_id}", **{"If-None-Match": '"7"'}),
        ask(f"/api/tasks/{other_task.json()['id']}"),
        ask(f"/api/tasks/{uuid.uuid4()}"),
        ask("/api/tasks/not-a-uuid"),
        ask("/api/auth/me"),
        ("HEAD", "/api/auth/me", headers),
        ask("/api/auth/me", Origin="http://localhost:3000"),
    ]
    for path in ("/api/tasks", f"/api/tasks/{task_id}", "/api/auth/me"):
        requests += [
            ("GET", path, {}),
            ("GET", path, {"Authorization": "Bearer not.a.token"}),
            ("GET", path, {"Authorization": "Basic dXNlcjpwYXNz"}),
            ("GET", path, {"Authorization": "Bearer"}),
            ("GET", path, {"Authorization": f"bearer   {owner['access_token']}  "}),
        ]

    before = fast_reads_of(fast).answered
    await compare(requests, client, plain, caplog)
    if is_postgres:
        # The ordinary requests (lists with a page, found tasks, /me) came the fast way.
        assert fast_reads_of(fast).answered - before >= 15
    else:
        assert fast_reads_of(fast).reader is None
        assert fast_reads_of(fast).answered == 0

    # After logout the session is dead at once, whichever way the request is answered.
    logout = await client.post("/api/auth/logout", json={"refresh_token": owner["refresh_token"]})
    assert logout.status_code == 204
    dead = [ask("/api/tasks"), ask(f"/api/tasks/{task_id}"), ask("/api/auth/me")]
    for method, url, request_headers in dead:
        status, _, body = await answer(client, method, url, request_headers)
        assert status == 401
        assert b"session_revoked" in body
    await compare(dead, client, plain, caplog)


async def test_fast_delta_sync_answers_as_the_route(
    clients: Any, is_postgres: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """`GET /api/tasks/sync?cursor=`: the same page both ways (tasks each once, deleted ids,
    `has_more`, the cursor), and every other sync request left to the route."""
    fast, client, plain = clients
    caplog.set_level(logging.INFO, logger="app.access")
    owner, other, ids = await owner_of_tasks(client)
    headers = bearer(owner)
    full = await client.get("/api/tasks/sync?limit=2", headers=headers)
    middle = full.json()["cursor"]  # the middle of a full sync: the route's
    start = (await client.get("/api/tasks/sync", headers=headers)).json()["cursor"]
    # Changes after `start`: one task twice, one deleted, one created, one in another way.
    for title in ("Once", "Twice"):
        changed = await client.patch(f"/api/tasks/{ids[0]}", json={"title": title}, headers=headers)
        assert changed.status_code == 200
    assert (await client.delete(f"/api/tasks/{ids[1]}", headers=headers)).status_code == 204
    created = await client.post("/api/tasks", json={"title": "New", "tags": ["x"]}, headers=headers)
    assert created.status_code == 201
    completed = await client.patch(
        f"/api/tasks/{ids[5]}", json={"completed": False}, headers=headers
    )
    assert completed.status_code == 200
    latest = (await client.get(f"/api/tasks/sync?cursor={start}", headers=headers)).json()
    assert [task["id"] for task in latest["tasks"]] == [ids[0], created.json()["id"], ids[5]]
    assert latest["deleted"] == [ids[1]]
    end = latest["cursor"]
    seq, tag = start.split(".")
    others = (await client.get("/api/tasks/sync", headers=bearer(other))).json()["cursor"]

    def ask(query: str, **extra: str) -> tuple[str, str, dict[str, str]]:
        return "GET", f"/api/tasks/sync{query}", headers | extra

    ordinary = [
        ask(f"?cursor={start}"),
        ask(f"?cursor={start}&limit=2"),
        ask(f"?limit=1000&cursor={start}"),
        ask(f"?cursor={end}"),
        ask(f"?cursor={start}", Origin="http://localhost:3000"),
    ]
    unusual = [
        ask(""),  # a full sync
        ask(f"?cursor={middle}"),
        ask(f"?cursor={others}"),  # another user's: 410
        ask(f"?cursor={int(seq) + 100}.{tag}"),  # never handed out: 410
        ask("?cursor=nonsense"),
        ask(f"?cursor={start}&limit=0"),
        ask(f"?cursor={start}&limit=1001"),
        ask(f"?cursor={start}&limit=05"),
        ask(f"?cursor={start}&cursor={end}"),
        ask(f"?cursor={start}&extra=1"),
        ask(f"?cursor={start}", **{"If-None-Match": '"1"'}),
        ("GET", f"/api/tasks/sync?cursor={start}", {}),
        ("GET", f"/api/tasks/sync?cursor={start}", {"Authorization": "Bearer not.a.token"}),
    ]

    before = fast_reads_of(fast).answered
    await compare(ordinary, client, plain, caplog)
    assert fast_reads_of(fast).answered - before == (len(ordinary) if is_postgres else 0)
    before = fast_reads_of(fast).answered
    await compare(unusual, client, plain, caplog)
    # If-None-Match means nothing to the sync route, so the fast path may answer that one.
    assert fast_reads_of(fast).answered - before <= (1 if is_postgres else 0)

    logout = await client.post("/api/auth/logout", json={"refresh_token": owner["refresh_token"]})
    assert logout.status_code == 204
    status, _, body = await answer(client, *ask(f"?cursor={start}"))
    assert status == 401
    assert b"session_revoked" in body
    await compare([ask(f"?cursor={start}")], client, plain, caplog)
