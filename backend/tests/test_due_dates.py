"""Due dates, time zones and the user's zone: due_at across DST gaps and folds, all-day tasks,
PATCH /api/auth/me, and every invalid value answered 422 naming its member."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.tasks.models import Task
from tests.test_tasks import Headers, create

pytestmark = pytest.mark.anyio


async def patch(
    client: httpx.AsyncClient, headers: Headers, task: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.patch(f"/api/tasks/{task['id']}", json=body, headers=headers)


async def test_v1_task_shows_the_new_members_with_their_defaults(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers)
    assert {k: task[k] for k in ("due_date", "due_time", "time_zone", "due_at", "recurrence")} == {
        "due_date": None,
        "due_time": None,
        "time_zone": None,
        "due_at": None,
        "recurrence": None,
    }
    assert (task["remind_at"], task["reminded_at"], task["series_id"]) == (None, None, None)
    assert (task["tags"], task["version"]) == ([], 1)


@pytest.mark.parametrize(
    ("body", "due_at"),
    [
        # A time on a date, in the user's zone (UTC by default).
        ({"due_date": "2026-03-10", "due_time": "09:30"}, "2026-03-10T09:30:00Z"),
        # All day: the first instant after that day.
        ({"due_date": "2026-03-10"}, "2026-03-11T00:00:00Z"),
        ({"due_date": "2026-03-10", "time_zone": "Asia/Tokyo"}, "2026-03-10T15:00:00Z"),
        (
            {"due_date": "2026-07-01", "due_time": "09:00", "time_zone": "America/New_York"},
            "2026-07-01T13:00:00Z",
        ),
        # DST gap (New York springs forward at 02:00 on 2026-03-08): forward by the gap.
        (
            {"due_date": "2026-03-08", "due_time": "02:30", "time_zone": "America/New_York"},
            "2026-03-08T07:30:00Z",
        ),
        # DST fold (01:30 happens twice on 2026-11-01): the first one, still EDT.
        (
            {"due_date": "2026-11-01", "due_time": "01:30", "time_zone": "America/New_York"},
            "2026-11-01T05:30:00Z",
        ),
        # Lord Howe moves by 30 minutes; seconds are kept.
        (
            {"due_date": "2026-10-04", "due_time": "02:15:30", "time_zone": "Australia/Lord_Howe"},
            "2026-10-03T15:45:30Z",
        ),
    ],
)
async def test_due_at_is_the_wall_time_in_the_zone(
    client: httpx.AsyncClient, auth_headers: Headers, body: dict[str, Any], due_at: str
) -> None:
    task = await create(client, auth_headers, **body)
    assert task["due_at"] == due_at
    assert task["due_date"] == body["due_date"]
    fetched = (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json()
    assert fetched == task


async def test_due_time_comes_back_as_sent(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    short = await create(client, auth_headers, due_date="2026-01-01", due_time="07:05")
    long = await create(client, auth_headers, due_date="2026-01-01", due_time="07:05:09")
    assert (short["due_time"], long["due_time"]) == ("07:05", "07:05:09")


async def test_the_users_zone_places_floating_tasks_and_moves_them_when_it_changes(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    floating = await create(client, auth_headers, due_date="2026-06-01", due_time="09:00")
    pinned = await create(
        client, auth_headers, due_date="2026-06-01", due_time="09:00", time_zone="Asia/Tokyo"
    )
    undated = await create(client, auth_headers)
    response = await client.patch(
        "/api/auth/me", json={"time_zone": "Europe/Paris"}, headers=auth_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["time_zone"] == "Europe/Paris"
    assert (await client.get("/api/auth/me", headers=auth_headers)).json()["time_zone"] == (
        "Europe/Paris"
    )

    async def get(task: dict[str, Any]) -> dict[str, Any]:
        return (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json()

    moved = await get(floating)
    assert moved["due_at"] == "2026-06-01T07:00:00Z"
    assert moved["time_zone"] is None
    assert moved["version"] == 2
    assert moved["updated_at"] > floating["updated_at"]
    assert await get(pinned) == pinned
    assert await get(undated) == undated
    # New floating tasks use the new zone.
    later = await create(client, auth_headers, due_date="2026-01-15", due_time="09:00")
    assert later["due_at"] == "2026-01-15T08:00:00Z"


async def test_patch_me_changes_the_name_and_refuses_bad_values(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    renamed = await client.patch("/api/auth/me", json={"name": "  Grace  "}, headers=auth_headers)
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["time_zone"]) == ("Grace", "UTC")
    for body, field in [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": None}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
        ({"time_zone": "europe/paris"}, "time_zone"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
    ]:
        response = await client.patch("/api/auth/me", json=body, headers=auth_headers)
        assert response.status_code == 422, body
        assert {tuple(e["loc"][:2]) for e in response.json()["detail"]} == {("body", field)}
    assert (await client.get("/api/auth/me", headers=auth_headers)).json()["name"] == "Grace"
    assert (await client.patch("/api/auth/me", json={"name": "x"})).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"due_date": "2026-02-30"}, "due_date"),
        ({"due_date": "2026-13-01"}, "due_date"),
        ({"due_date": "20260301"}, "due_date"),
        ({"due_date": 20260301}, "due_date"),
        ({"due_date": "1899-12-31"}, "due_date"),
        ({"due_date": "3000-01-01"}, "due_date"),
        ({"due_date": "2026-03-01T10:00:00"}, "due_date"),
        ({"due_time": "09:00"}, "due_time"),
        ({"due_date": "2026-03-01", "due_time": "25:00"}, "due_time"),
        ({"due_date": "2026-03-01", "due_time": "09:00+02:00"}, "due_time"),
        ({"due_date": "2026-03-01", "due_time": 3600}, "due_time"),
        ({"due_date": "2026-03-01", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"due_date": "2026-03-01", "time_zone": "EST5EDT\u0000"}, "time_zone"),
        ({"due_date": "2026-03-01", "time_zone": "../../etc/passwd"}, "time_zone"),
        ({"due_date": "2026-03-01", "time_zone": ""}, "time_zone"),
        ({"remind_at": "2026-03-01T09:00:00"}, "remind_at"),
        ({"remind_at": "2026-03-01"}, "remind_at"),
        ({"remind_at": 1767225600}, "remind_at"),
        ({"remind_at": "0001-01-01T00:00:00+14:00"}, "remind_at"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"tags": ["   "]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"tags": ["tab\there"]}, "tags"),
        ({"tags": ["bell\u0007"]}, "tags"),
        ({"tags": ["nul\u0000"]}, "tags"),
        ({"tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"tags": "work"}, "tags"),
        ({"tags": [1]}, "tags"),
        ({"tags": None}, "tags"),
    ],
)
async def test_invalid_members_are_422_naming_the_member_and_write_nothing(
    client: httpx.AsyncClient, auth_headers: Headers, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/tasks", json={"title": "x", **body}, headers=auth_headers)
    assert response.status_code == 422, response.text
    assert [e["loc"][:2] for e in response.json()["detail"]] == [["body", field]]
    assert (await client.get("/api/tasks", headers=auth_headers)).json() == []
    task = await create(client, auth_headers)
    response = await patch(client, auth_headers, task, **body)
    if field != "due_time" or "due_date" in body:  # a due_time alone is 422 too (below)
        assert response.status_code == 422, response.text
    after = (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json()
    assert after == task


async def test_patch_cross_member_rules_use_the_stored_task(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    undated = await create(client, auth_headers)
    for body, field in [
        ({"due_time": "09:00"}, "due_time"),
        ({"recurrence": "FREQ=DAILY"}, "recurrence"),
    ]:
        response = await patch(client, auth_headers, undated, **body)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", field]
    timed = await create(client, auth_headers, due_date="2026-05-01", due_time="10:00")
    response = await patch(client, auth_headers, timed, due_date=None)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "due_date"]
    assert "due_time" in response.json()["detail"][0]["msg"]
    cleared = await patch(client, auth_headers, timed, due_date=None, due_time=None)
    assert cleared.status_code == 200
    assert (cleared.json()["due_at"], cleared.json()["due_time"]) == (None, None)
    # Changing only the time keeps the date; changing the zone moves due_at.
    dated = await create(client, auth_headers, due_date="2026-05-01")
    timed_now = (await patch(client, auth_headers, dated, due_time="08:00")).json()
    assert timed_now["due_at"] == "2026-05-01T08:00:00Z"
    zoned = (await patch(client, auth_headers, dated, time_zone="Europe/Berlin")).json()
    assert zoned["due_at"] == "2026-05-01T06:00:00Z"


async def test_remind_at_is_stored_in_utc_and_clears_reminded_at_only_when_it_changes(
    client: httpx.AsyncClient, auth_headers: Headers, engine: Any
) -> None:
    task = await create(client, auth_headers, remind_at="2026-03-09T08:45:00-04:00")
    assert task["remind_at"] == "2026-03-09T12:45:00Z"
    async with engine.begin() as connection:  # as if the reminder had been delivered
        await connection.execute(update(Task).values(reminded_at=datetime.now(UTC)))
    same = (await patch(client, auth_headers, task, remind_at="2026-03-09T12:45:00Z")).json()
    assert same["reminded_at"] is not None
    moved = (await patch(client, auth_headers, task, remind_at="2026-03-09T13:00:00Z")).json()
    assert moved["reminded_at"] is None
    cleared = (await patch(client, auth_headers, task, remind_at=None)).json()
    assert cleared["remind_at"] is None


async def test_put_resets_the_new_members_to_their_defaults(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(
        client,
        auth_headers,
        due_date="2026-05-01",
        due_time="10:00",
        time_zone="Asia/Tokyo",
        recurrence="FREQ=DAILY",
        remind_at="2026-05-01T00:00:00Z",
        tags=["a"],
    )
    replaced = await client.put(
        f"/api/tasks/{task['id']}", json={"title": "v1 client"}, headers=auth_headers
    )
    assert replaced.status_code == 200
    body = replaced.json()
    for member in ("due_date", "due_time", "time_zone", "due_at", "recurrence", "remind_at"):
        assert body[member] is None, member
    assert body["tags"] == []
    assert (await client.get("/api/tags", headers=auth_headers)).json() == []
