"""The listing's v2 filters and the sort by due date (tasks without one last, both ways)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.test_tasks import Headers, create, parse_links, recorded_statements

pytestmark = pytest.mark.anyio


async def titles(client: httpx.AsyncClient, headers: Headers, **params: Any) -> list[str]:
    response = await client.get("/api/tasks", params={"limit": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["X-Total-Count"] == str(len(response.json()))
    return [task["title"] for task in response.json()]


@pytest.fixture
async def dated(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    past = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    await create(client, auth_headers, title="jan", due_date="2030-01-15")
    await create(client, auth_headers, title="feb", due_date="2030-02-01", due_time="10:00")
    await create(client, auth_headers, title="feb-early", due_date="2030-02-01", due_time="08:00")
    await create(client, auth_headers, title="late", due_date=past)
    await create(client, auth_headers, title="late-done", due_date=past, completed=True)
    await create(client, auth_headers, title="undated")


@pytest.mark.usefixtures("dated")
async def test_due_filters(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    sort = {"sort": "title"}
    assert await titles(client, auth_headers, due_after="2030-01-15", **sort) == [
        "feb",
        "feb-early",
        "jan",
    ]
    assert await titles(client, auth_headers, due_after="2030-01-16", due_before="2030-02-01") == [
        "feb-early",
        "feb",
    ]
    assert await titles(client, auth_headers, has_due="false") == ["undated"]
    assert len(await titles(client, auth_headers, has_due="true")) == 5
    assert await titles(client, auth_headers, overdue="true") == ["late"]
    assert await titles(client, auth_headers, overdue="false", **sort) == [
        "feb",
        "feb-early",
        "jan",
        "late-done",
        "undated",
    ]
    assert await titles(client, auth_headers, overdue="true", status="completed") == []


@pytest.mark.usefixtures("dated")
async def test_sort_by_due_puts_undated_tasks_last_both_ways(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    ascending = await titles(client, auth_headers, sort="due")
    assert set(ascending[:2]) == {"late", "late-done"}
    assert ascending[2:] == ["jan", "feb-early", "feb", "undated"]
    descending = await titles(client, auth_headers, sort="-due")
    assert descending[:3] == ["feb", "feb-early", "jan"]
    assert set(descending[3:5]) == {"late", "late-done"}
    assert descending[5] == "undated"


@pytest.mark.parametrize("sort", ["due", "-due"])
async def test_paging_by_due_visits_every_task_once(
    client: httpx.AsyncClient, auth_headers: Headers, sort: str
) -> None:
    for n in range(13):
        due = {"due_date": f"2030-01-0{1 + n % 3}"} if n % 4 else {}
        await create(client, auth_headers, title=f"t{n}", **due)
    seen: list[dict[str, Any]] = []
    url: str | None = f"/api/tasks?sort={sort}&limit=4"
    while url:
        response = await client.get(url, headers=auth_headers)
        seen += response.json()
        url = parse_links(response.headers["Link"]).get("next")
    assert len({t["id"] for t in seen}) == 13
    dated = [t for t in seen if t["due_at"]]
    assert seen[len(dated) :] == [t for t in seen if not t["due_at"]]  # undated last
    order = sorted(dated, key=lambda t: (t["due_at"], uuid.UUID(t["id"])), reverse=sort == "-due")
    assert dated == order
    undated = seen[len(dated) :]
    assert undated == sorted(undated, key=lambda t: uuid.UUID(t["id"]), reverse=sort == "-due")


@pytest.mark.parametrize(
    "params",
    [
        {"due_after": "2030-02-30"},
        {"due_before": "tomorrow"},
        {"has_due": "maybe"},
        {"overdue": "2"},
        {"series_id": "not-a-uuid"},
        {"sort": "due_at"},
    ],
)
async def test_bad_v2_list_parameters_are_422(
    client: httpx.AsyncClient, auth_headers: Headers, params: dict[str, str]
) -> None:
    response = await client.get("/api/tasks", params=params, headers=auth_headers)
    assert response.status_code == 422
    [(name, _)] = params.items()
    assert [error["loc"] for error in response.json()["detail"]] == [["query", name]]


async def test_a_filtered_page_with_tags_is_still_one_statement(
    client: httpx.AsyncClient, auth_headers: Headers, engine: Any
) -> None:
    for n in range(5):
        await create(client, auth_headers, title=f"t{n}", tags=["a", "b"], due_date="2030-01-01")
    params = {"tag": ["a", "B"], "sort": "-due", "has_due": "true", "overdue": "false"}
    async with recorded_statements(engine) as statements:
        response = await client.get("/api/tasks", params=params, headers=auth_headers)
    assert len(response.json()) == 5
    assert response.json()[0]["tags"] == ["a", "b"]
    assert len(statements) == 1, statements
    assert "auth_sessions" in statements[0]
