"""X-Total-Count is exact up to 10,000 matches; past that the count stops: the header says
10000, `Link` has no `last`, and `next` follows every full page to the very end."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.lists.models import TaskList
from app.lists.positions import spread
from app.tasks.listing import COUNT_CAP, search_text
from app.tasks.models import Task

pytestmark = pytest.mark.anyio


async def _add_tasks(engine: AsyncEngine, user_id: str, count: int, start: int) -> None:
    """`count` tasks straight into the table (the API would take minutes), every other one
    completed, numbered from `start`, newest last."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.connect() as connection:
        inbox = (
            await connection.execute(
                select(TaskList.id).where(TaskList.inbox_of == uuid.UUID(user_id))
            )
        ).scalar_one()
    keys = spread(start + count)
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": uuid.UUID(user_id),
            "title": f"task {n}",
            "search_text": search_text(f"task {n}", None),
            "completed": n % 2 == 1,
            "created_at": base + timedelta(seconds=n),
            "updated_at": base + timedelta(seconds=n),
            "list_id": inbox,
            "position": keys[n],
        }
        for n in range(start, start + count)
    ]
    async with engine.begin() as connection:
        await connection.execute(insert(Task), rows)


def _links(response: httpx.Response) -> dict[str, int]:
    links = {}
    for part in response.headers["Link"].split(", "):
        url, rel = part.split(">; rel=")
        links[rel.strip('"')] = int(url.rsplit("page=", 1)[1])
    return links


async def test_the_count_is_exact_up_to_the_cap_and_stops_past_it(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    user: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    assert COUNT_CAP == 10_000
    await _add_tasks(engine, user["user"]["id"], COUNT_CAP, 0)

    # Exactly at the cap: exact, as below it.
    page = await client.get("/api/tasks?limit=100", headers=auth_headers)
    assert page.headers["X-Total-Count"] == "10000"
    assert _links(page) == {"first": 1, "last": 100, "next": 2}
    active = await client.get("/api/tasks?status=active", headers=auth_headers)
    assert active.headers["X-Total-Count"] == "5000"
    searched = await client.get("/api/tasks?search=task%20999", headers=auth_headers)
    assert searched.headers["X-Total-Count"] == "11"  # 999 and 9990-9999

    await _add_tasks(engine, user["user"]["id"], 5, COUNT_CAP)  # 10,005 now

    # Past it: the cap, no `last`, and `next` while pages are full.
    first = await client.get("/api/tasks?limit=100", headers=auth_headers)
    assert first.status_code == 200
    assert first.headers["X-Total-Count"] == "10000"
    assert _links(first) == {"first": 1, "next": 2}
    assert first.json()[0]["title"] == "task 10004"
    full = await client.get("/api/tasks?limit=100&page=100", headers=auth_headers)
    assert full.headers["X-Total-Count"] == "10000"
    assert _links(full) == {"first": 1, "prev": 99, "next": 101}
    end = await client.get("/api/tasks?limit=100&page=101", headers=auth_headers)
    assert [t["title"] for t in end.json()] == [f"task {n}" for n in range(4, -1, -1)]
    assert _links(end) == {"first": 1, "prev": 100}
    past = await client.get("/api/tasks?limit=100&page=102", headers=auth_headers)
    assert past.status_code == 200
    assert past.json() == []
    assert past.headers["X-Total-Count"] == "10000"
    assert _links(past) == {"first": 1, "prev": 101}

    # Filters below the cap stay exact.
    active = await client.get("/api/tasks?status=active", headers=auth_headers)
    assert active.headers["X-Total-Count"] == "5003"
    assert _links(active)["last"] == 251
