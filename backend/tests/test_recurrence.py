"""Recurring tasks through the API: completing keeps a completed copy and moves the task to its
next occurrence, with RFC 5545's rules (DTSTART counts, COUNT, UNTIL, short months, DST)."""

import asyncio
import time
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.test_tasks import Headers, create

pytestmark = pytest.mark.anyio

Task = dict[str, Any]


async def complete(client: httpx.AsyncClient, headers: Headers, task: Task) -> Task:
    response = await client.patch(
        f"/api/tasks/{task['id']}", json={"completed": True}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: Task = response.json()
    return body


async def copies(client: httpx.AsyncClient, headers: Headers, task: Task) -> list[Task]:
    response = await client.get(
        "/api/tasks", params={"series_id": task["id"], "sort": "due", "limit": 100}, headers=headers
    )
    assert response.status_code == 200
    body: list[Task] = response.json()
    return body


async def walk(client: httpx.AsyncClient, headers: Headers, task: Task, times: int) -> list[str]:
    dates = []
    for _ in range(times):
        task = await complete(client, headers, task)
        dates.append(task["due_date"])
    return dates


async def test_completing_keeps_a_copy_and_moves_to_the_next_occurrence(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(
        client,
        auth_headers,
        title="Water plants",
        description="balcony",
        priority="High",
        tags=["home"],
        due_date="2030-01-07",  # a Monday
        due_time="08:00",
        time_zone="Europe/Paris",
        recurrence="RRULE:FREQ=WEEKLY;BYDAY=MO,TH",
        remind_at="2030-01-07T06:30:00Z",
    )
    assert task["recurrence"] == "FREQ=WEEKLY;BYDAY=MO,TH"
    moved = await complete(client, auth_headers, task)
    assert moved["id"] == task["id"]
    assert moved["completed"] is False
    assert (moved["due_date"], moved["due_time"], moved["time_zone"]) == (
        "2030-01-10",
        "08:00",
        "Europe/Paris",
    )
    assert moved["due_at"] == "2030-01-10T07:00:00Z"
    # The reminder keeps its distance on the wall clock: 07:30 Paris, three days later.
    assert moved["remind_at"] == "2030-01-10T06:30:00Z"
    assert moved["reminded_at"] is None
    assert moved["version"] == task["version"] + 1
    [copy] = await copies(client, auth_headers, task)
    assert copy["id"] != task["id"]
    assert copy["series_id"] == task["id"]
    assert copy["completed"] is True
    same = ("title", "description", "priority", "tags", "due_date", "due_time", "time_zone")
    assert {k: copy[k] for k in same} == {k: task[k] for k in same}
    assert copy["due_at"] == task["due_at"]
    assert (copy["recurrence"], copy["remind_at"], copy["version"]) == (None, None, 1)
    # Completed occurrences are listed with the completed tasks, and carry the tags.
    done = await client.get("/api/tasks", params={"status": "completed"}, headers=auth_headers)
    assert [t["id"] for t in done.json()] == [copy["id"]]
    assert (await client.get("/api/tags", headers=auth_headers)).json() == [
        {"name": "home", "count": 2}
    ]
    # Deleting the recurring task leaves its completed copies.
    deleted = await client.delete(f"/api/tasks/{task['id']}", headers=auth_headers)
    assert deleted.status_code == 204
    assert [t["id"] for t in await copies(client, auth_headers, task)] == [copy["id"]]


async def test_a_weekly_rule_keeps_its_wall_time_across_dst(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    # New York springs forward on 2030-03-10.
    task = await create(
        client,
        auth_headers,
        due_date="2030-03-04",
        due_time="09:00",
        time_zone="America/New_York",
        recurrence="FREQ=WEEKLY",
    )
    assert task["due_at"] == "2030-03-04T14:00:00Z"
    moved = await complete(client, auth_headers, task)
    assert moved["due_date"] == "2030-03-11"
    assert moved["due_at"] == "2030-03-11T13:00:00Z"


async def test_count_3_completes_for_good_on_the_third_completion(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(
        client, auth_headers, due_date="2030-05-01", recurrence="FREQ=DAILY;COUNT=3"
    )
    first = await complete(client, auth_headers, task)
    second = await complete(client, auth_headers, first)
    assert (first["due_date"], second["due_date"]) == ("2030-05-02", "2030-05-03")
    third = await complete(client, auth_headers, second)
    assert third["completed"] is True
    assert third["due_date"] == "2030-05-03"
    assert third["recurrence"] == "FREQ=DAILY;COUNT=3"
    # Two copies: the third occurrence is the task itself, completed.
    assert [c["due_date"] for c in await copies(client, auth_headers, task)] == [
        "2030-05-01",
        "2030-05-02",
    ]
    # Reopening and completing again does not start the series over.
    reopened = await client.patch(
        f"/api/tasks/{task['id']}", json={"completed": False}, headers=auth_headers
    )
    assert reopened.json()["due_date"] == "2030-05-03"
    again = await complete(client, auth_headers, reopened.json())
    assert (again["completed"], again["due_date"]) == (True, "2030-05-03")


async def test_bymonthday_31_skips_short_months(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(
        client, auth_headers, due_date="2030-01-31", recurrence="FREQ=MONTHLY;BYMONTHDAY=31"
    )
    assert await walk(client, auth_headers, task, 4) == [
        "2030-03-31",
        "2030-05-31",
        "2030-07-31",
        "2030-08-31",
    ]


async def test_a_due_date_off_the_rule_is_the_first_occurrence_and_counts(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """RFC 5545: DTSTART is an occurrence even where the rule would not produce it, and COUNT
    counts it. 2030-01-02 is a Wednesday; the rule says Mondays, three times."""
    task = await create(
        client, auth_headers, due_date="2030-01-02", recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=3"
    )
    moved = await complete(client, auth_headers, task)
    assert moved["due_date"] == "2030-01-07"
    last = await complete(client, auth_headers, moved)
    assert last["due_date"] == "2030-01-14"
    done = await complete(client, auth_headers, last)
    assert (done["completed"], done["due_date"]) == (True, "2030-01-14")


@pytest.mark.parametrize(
    ("until", "due_time", "time_zone", "last"),
    [
        ("20300103", None, None, "2030-01-03"),
        ("20300103", "23:00", None, "2030-01-03"),  # a DATE includes the whole day
        ("20300103T090000", "09:00", None, "2030-01-03"),  # inclusive
        ("20300103T085959", "09:00", None, "2030-01-02"),
        # 14:00 UTC is 09:00 in New York: the 09:00 occurrence on the 3rd is the last...
        ("20300103T140000Z", "09:00", "America/New_York", "2030-01-03"),
        # ...and one minute earlier it is not.
        ("20300103T135900Z", "09:00", "America/New_York", "2030-01-02"),
    ],
)
async def test_until_is_inclusive_in_each_of_its_forms(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    until: str,
    due_time: str | None,
    time_zone: str | None,
    last: str,
) -> None:
    task = await create(
        client,
        auth_headers,
        due_date="2030-01-01",
        due_time=due_time,
        time_zone=time_zone,
        recurrence=f"FREQ=DAILY;UNTIL={until}",
    )
    while not task["completed"]:
        previous, task = task, await complete(client, auth_headers, task)
    assert task["due_date"] == last
    assert previous["due_date"] <= last


async def test_next_occurrence_is_not_before_today(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """A task left undone for weeks moves to today's occurrence, not the one after the last."""
    start = date.today() - timedelta(days=30)
    task = await create(client, auth_headers, due_date=start.isoformat(), recurrence="FREQ=DAILY")
    moved = await complete(client, auth_headers, task)
    today = date.today()  # the user's zone is UTC; the test may straddle midnight
    assert moved["due_date"] in {today.isoformat(), (today + timedelta(days=1)).isoformat()}


async def test_changing_the_due_date_reanchors_the_rule(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(
        client, auth_headers, due_date="2030-01-01", recurrence="FREQ=DAILY;INTERVAL=10"
    )
    moved = await client.patch(
        f"/api/tasks/{task['id']}", json={"due_date": "2030-02-05"}, headers=auth_headers
    )
    assert moved.json()["recurrence"] == "FREQ=DAILY;INTERVAL=10"
    assert (await complete(client, auth_headers, moved.json()))["due_date"] == "2030-02-15"
    # A completion that also changes the due date completes that date.
    both = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"due_date": "2030-03-01", "completed": True},
        headers=auth_headers,
    )
    assert both.json()["due_date"] == "2030-03-11"
    assert "2030-03-01" in [c["due_date"] for c in await copies(client, auth_headers, task)]


async def test_completing_with_the_rule_cleared_just_completes(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers, due_date="2030-01-01", recurrence="FREQ=DAILY")
    response = await client.patch(
        f"/api/tasks/{task['id']}",
        json={"completed": True, "recurrence": None},
        headers=auth_headers,
    )
    assert (response.json()["completed"], response.json()["due_date"]) == (True, "2030-01-01")
    assert await copies(client, auth_headers, task) == []


async def test_put_completing_a_recurring_task_moves_it_too(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    body = {"title": "Rent", "due_date": "2030-01-01", "recurrence": "FREQ=MONTHLY"}
    task = await create(client, auth_headers, **body)
    response = await client.put(
        f"/api/tasks/{task['id']}", json={**body, "completed": True}, headers=auth_headers
    )
    assert (response.json()["completed"], response.json()["due_date"]) == (False, "2030-02-01")


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=HOURLY",
        "FREQ=MINUTELY",
        "FREQ=SECONDLY",
        "FREQ=DAILY;BYHOUR=9",
        "FREQ=DAILY;BYMINUTE=30",
        "DTSTART:20300101T000000\nRRULE:FREQ=DAILY",
        "FREQ=DAILY;DTSTART=20300101",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=FORTNIGHTLY",
        "BYDAY=MO",
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;INTERVAL=-1",
        "FREQ=DAILY;COUNT=2;UNTIL=20300105",
        "FREQ=DAILY;UNTIL=tomorrow",
        "FREQ=DAILY;UNTIL=1",
        "FREQ=DAILY;FREQ=WEEKLY",
        "FREQ=DAILY;;",
        "not a rule",
        "",
        "   ",
        "RRULE:",
        "FREQ=DAILY;X-NAME=1",
        "F" * 501,
        # Rules that never produce a date.
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=DAILY;UNTIL=20291231",  # ends before the due date
        "FREQ=MONTHLY;BYMONTHDAY=32",
        "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # 2030-01-07 is a Monday: never a Tuesday
    ],
)
async def test_invalid_rules_are_422_naming_recurrence(
    client: httpx.AsyncClient, auth_headers: Headers, rule: str
) -> None:
    response = await client.post(
        "/api/tasks",
        json={"title": "x", "due_date": "2030-01-07", "recurrence": rule},
        headers=auth_headers,
    )
    assert response.status_code == 422, response.text
    assert {tuple(e["loc"][:2]) for e in response.json()["detail"]} == {("body", "recurrence")}
    assert (await client.get("/api/tasks", headers=auth_headers)).json() == []


async def test_a_rule_that_never_matches_does_not_stall_other_requests(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    # dateutil walks such a rule for a fifth of a second or more before giving up; run on the
    # event loop, that would hold every other request of the worker for as long.
    rule = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"
    body = {"title": "x", "due_date": "2030-01-07", "recurrence": rule}
    gaps: list[float] = []
    stop = asyncio.Event()

    async def tick() -> None:  # how long the event loop goes without running anything else
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.ensure_future(tick())
    started = time.perf_counter()
    response = await client.post("/api/tasks", json=body, headers=auth_headers)
    took = time.perf_counter() - started
    stop.set()
    await ticker
    assert response.status_code == 422
    assert max(gaps) < took / 2, (max(gaps), took)


async def test_rule_checks_on_patch_leave_the_task_as_it_was(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers, due_date="2030-01-07", recurrence="FREQ=WEEKLY")
    for body, field in [
        ({"recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "recurrence"),
        ({"recurrence": "FREQ=HOURLY"}, "recurrence"),
        ({"due_date": None}, "due_date"),
        ({"recurrence": "FREQ=DAILY;UNTIL=20300110", "due_date": "2030-02-01"}, "recurrence"),
    ]:
        response = await client.patch(f"/api/tasks/{task['id']}", json=body, headers=auth_headers)
        assert response.status_code == 422, body
        assert {tuple(e["loc"][:2]) for e in response.json()["detail"]} == {("body", field)}
    current = await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)
    assert current.json() == task


@pytest.mark.usefixtures("needs_postgres")
async def test_concurrent_completions_never_skip_or_double_an_occurrence(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    """Ten devices complete the task at once. Locked, each completion sees the one before it:
    ten copies, of ten consecutive occurrences, and the task on the eleventh. Without the lock
    two completions read the same occurrence: a doubled copy, and the task behind."""
    task = await create(client, auth_headers, due_date="2030-01-01", recurrence="FREQ=DAILY")
    responses = await asyncio.gather(
        *(
            client.patch(f"/api/tasks/{task['id']}", json={"completed": True}, headers=auth_headers)
            for _ in range(10)
        )
    )
    assert [r.status_code for r in responses] == [200] * 10
    expected = [(date(2030, 1, 1) + timedelta(days=n)).isoformat() for n in range(11)]
    assert [c["due_date"] for c in await copies(client, auth_headers, task)] == expected[:10]
    final = await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)
    assert final.json()["due_date"] == expected[10]
    assert final.json()["version"] == 11
