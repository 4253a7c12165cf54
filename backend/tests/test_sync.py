"""GET /api/tasks/sync: a full sync pages through every task, deltas bring what changed and what
was deleted, cursors that the log no longer covers (or that were never ours) are 410."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import User
from app.core.models import utcnow
from app.sync.changelog import prune_changes
from app.sync.models import TaskChange
from tests.conftest import bearer

pytestmark = pytest.mark.anyio

Headers = dict[str, str]


async def sync(client: httpx.AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/tasks/sync", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sync_all(
    client: httpx.AsyncClient, headers: Headers, state: dict[str, dict[str, Any]], cursor: Any
) -> str:
    """Apply answers until has_more is false, as a client would; returns the last cursor."""
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await sync(client, headers, **params)
        for task in page["tasks"]:
            state[task["id"]] = task
        for task_id in page["deleted"]:
            state.pop(task_id, None)
        cursor = page["cursor"]
        if not page["has_more"]:
            return str(cursor)


async def server_tasks(client: httpx.AsyncClient, headers: Headers) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/tasks", params={"limit": 100}, headers=headers)
    return {task["id"]: task for task in response.json()}


async def create(client: httpx.AsyncClient, headers: Headers, title: str) -> dict[str, Any]:
    response = await client.post("/api/tasks", json={"title": title}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_full_sync_then_deltas_reproduce_the_server_state(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    tasks = [await create(client, auth_headers, f"task {n}") for n in range(5)]
    state: dict[str, dict[str, Any]] = {}
    cursor = await sync_all(client, auth_headers, state, None)
    assert state == await server_tasks(client, auth_headers)

    await client.patch(
        f"/api/tasks/{tasks[0]['id']}", json={"completed": True}, headers=auth_headers
    )
    await client.put(
        f"/api/tasks/{tasks[1]['id']}", json={"title": "renamed"}, headers=auth_headers
    )
    await client.delete(f"/api/tasks/{tasks[2]['id']}", headers=auth_headers)
    new = await create(client, auth_headers, "new")

    page = await sync(client, auth_headers, cursor=cursor)
    assert {t["id"] for t in page["tasks"]} == {tasks[0]["id"], tasks[1]["id"], new["id"]}
    assert page["deleted"] == [tasks[2]["id"]]
    assert page["has_more"] is False
    cursor = await sync_all(client, auth_headers, state, cursor)
    assert state == await server_tasks(client, auth_headers)

    # Nothing new: the same cursor comes back with nothing.
    page = await sync(client, auth_headers, cursor=cursor)
    assert page == {
        "tasks": [],
        "deleted": [],
        "cursor": cursor,
        "has_more": False,
        "lists": [],
        "deleted_lists": [],
    }


async def test_a_task_created_and_deleted_between_syncs_comes_back_deleted_only(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    cursor = (await sync(client, auth_headers))["cursor"]
    task = await create(client, auth_headers, "short-lived")
    await client.delete(f"/api/tasks/{task['id']}", headers=auth_headers)
    page = await sync(client, auth_headers, cursor=cursor)
    assert page["tasks"] == []
    assert page["deleted"] == [task["id"]]


async def test_paging_is_bounded_by_limit(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    for n in range(5):
        await create(client, auth_headers, f"task {n}")
    first = await sync(client, auth_headers, limit=2)
    assert len(first["tasks"]) == 2
    assert first["has_more"] is True
    cursor = first["cursor"]
    for n in range(3):
        await create(client, auth_headers, f"more {n}")
    seen = {t["id"] for t in first["tasks"]}
    while True:
        page = await sync(client, auth_headers, cursor=cursor, limit=2)
        assert len(page["tasks"]) + len(page["deleted"]) <= 2
        seen |= {t["id"] for t in page["tasks"]}
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert seen == set(await server_tasks(client, auth_headers))


async def test_another_users_tasks_and_cursors_never_cross(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    mine = await create(client, auth_headers, "mine")
    theirs_cursor = (await sync(client, other_user_headers))["cursor"]
    await create(client, other_user_headers, "theirs")
    page = await sync(client, auth_headers)
    assert [t["id"] for t in page["tasks"]] == [mine["id"]]
    # Their cursor is no cursor of mine: start over.
    response = await client.get(
        "/api/tasks/sync", params={"cursor": theirs_cursor}, headers=auth_headers
    )
    assert response.status_code == 410
    assert response.json()["code"] == "cursor_expired"
    their_page = await sync(client, other_user_headers, cursor=theirs_cursor)
    assert [t["title"] for t in their_page["tasks"]] == ["theirs"]


@pytest.mark.parametrize(
    "cursor", ["", "garbage", "-1", "1.zzzz", "9" * 40, "1.abcdefgh.x", "\u00e9"]
)
async def test_malformed_cursors_are_refused_with_422(
    client: httpx.AsyncClient, auth_headers: Headers, cursor: str
) -> None:
    response = await client.get("/api/tasks/sync", params={"cursor": cursor}, headers=auth_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "cursor"]


async def test_a_cursor_from_the_future_is_unknown(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    tag = uuid.UUID(user["user"]["id"]).hex[:8]
    response = await client.get(
        "/api/tasks/sync", params={"cursor": f"999.{tag}"}, headers=bearer(user)
    )
    assert response.status_code == 410
    assert response.json()["code"] == "cursor_expired"


@pytest.mark.parametrize("limit", [0, 1001, -1, "x"])
async def test_limit_out_of_range_is_422(
    client: httpx.AsyncClient, auth_headers: Headers, limit: Any
) -> None:
    response = await client.get("/api/tasks/sync", params={"limit": limit}, headers=auth_headers)
    assert response.status_code == 422


async def test_sync_needs_a_live_session(client: httpx.AsyncClient, user: dict[str, Any]) -> None:
    assert (await client.get("/api/tasks/sync")).status_code == 401
    await client.post("/api/auth/logout", json={"refresh_token": user["refresh_token"]})
    response = await client.get("/api/tasks/sync", headers=bearer(user))
    assert response.status_code == 401


async def test_deletions_are_remembered_until_pruned_after_30_days(
    client: httpx.AsyncClient, engine: AsyncEngine, user: dict[str, Any]
) -> None:
    headers = bearer(user)
    task = await create(client, headers, "old")
    cursor = (await sync(client, headers))["cursor"]
    await client.delete(f"/api/tasks/{task['id']}", headers=headers)
    kept = await create(client, headers, "recent")
    # 29 days later the deletion is still there.
    async with engine.begin() as connection:
        await connection.execute(update(TaskChange).values(at=utcnow() - timedelta(days=29)))
        assert await prune_changes(connection=connection) == 0
    assert (await sync(client, headers, cursor=cursor))["deleted"] == [task["id"]]

    # Past 30 days the entries go, and so does every cursor they were needed for.
    async with engine.begin() as connection:
        await connection.execute(
            update(TaskChange)
            .where(TaskChange.task_id == uuid.UUID(task["id"]))
            .values(at=utcnow() - timedelta(days=31))
        )
        assert await prune_changes(connection=connection) > 0
        floor = (await connection.execute(select(User.change_floor))).scalar_one()
        assert floor > 0
    response = await client.get("/api/tasks/sync", params={"cursor": cursor}, headers=headers)
    assert response.status_code == 410
    assert response.json()["code"] == "cursor_expired"
    # Starting over works, and a cursor after the pruned entries still does.
    state: dict[str, dict[str, Any]] = {}
    fresh = await sync_all(client, headers, state, None)
    assert set(state) == {kept["id"]}
    assert (await sync(client, headers, cursor=fresh))["tasks"] == []


async def test_every_kind_of_write_reaches_the_sync(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """The completed copy and the moved task of a recurring completion, a tag renamed or
    deleted across tasks, a time zone change that moves floating due dates: each task they
    change comes with the next delta."""
    recurring = await client.post(
        "/api/tasks",
        json={"title": "Water plants", "due_date": "2030-01-06", "recurrence": "FREQ=WEEKLY"},
        headers=auth_headers,
    )
    tagged = [
        (
            await client.post(
                "/api/tasks", json={"title": f"t{n}", "tags": ["home"]}, headers=auth_headers
            )
        ).json()
        for n in range(2)
    ]
    floating = await create(client, auth_headers, "floating")
    await client.patch(
        f"/api/tasks/{floating['id']}",
        json={"due_date": "2030-02-01", "due_time": "09:00"},
        headers=auth_headers,
    )
    state: dict[str, dict[str, Any]] = {}
    cursor = await sync_all(client, auth_headers, state, None)

    async def changed_since() -> set[str]:
        nonlocal cursor
        page = await sync(client, auth_headers, cursor=cursor)
        cursor = page["cursor"]
        for task in page["tasks"]:
            state[task["id"]] = task
        return {task["id"] for task in page["tasks"]}

    done = await client.patch(
        f"/api/tasks/{recurring.json()['id']}", json={"completed": True}, headers=auth_headers
    )
    assert done.status_code == 200, done.text
    changed = await changed_since()
    assert recurring.json()["id"] in changed
    assert len(changed) == 2  # and its completed copy
    assert (
        await client.patch("/api/tags/home", json={"name": "house"}, headers=auth_headers)
    ).status_code == 200
    assert await changed_since() == {t["id"] for t in tagged}
    assert (await client.delete("/api/tags/house", headers=auth_headers)).status_code == 204
    assert await changed_since() == {t["id"] for t in tagged}
    me = await client.patch("/api/auth/me", json={"time_zone": "Asia/Tokyo"}, headers=auth_headers)
    assert me.status_code == 200, me.text
    assert floating["id"] in await changed_since()
    assert state == await server_tasks(client, auth_headers)
