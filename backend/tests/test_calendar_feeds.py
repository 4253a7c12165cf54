"""Calendar feeds: a secret URL per feed (shown once, stored hashed, revoked at once) serving
the owner's dated tasks as iCalendar that `icalendar` parses and `recurring-ical-events`
expands to the dates the task will really have."""

import asyncio
import hashlib
import logging
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
import recurring_ical_events
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.integrations.calendar_models import CalendarFeed
from tests.conftest import bearer, make_client, make_settings, register
from tests.support.membership import add_member, remove_member, user_id_of

pytestmark = pytest.mark.anyio


async def create_feed(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post("/api/calendar-feeds", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_task(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post("/api/tasks", json={"title": "Task", **body}, headers=headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def feed_path(feed: dict[str, Any]) -> str:
    return httpx.URL(feed["url"]).path


async def read_feed(client: httpx.AsyncClient, feed: dict[str, Any]) -> icalendar.Calendar:
    response = await client.get(feed_path(feed))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(response.content)


def events_by_uid(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


async def test_a_new_feed_has_a_secret_url_shown_once_and_stored_only_as_a_hash(
    client: httpx.AsyncClient, auth_headers: dict[str, str], engine: AsyncEngine
) -> None:
    response = await client.post(
        "/api/calendar-feeds", json={"name": "  Work "}, headers=auth_headers
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    feed = response.json()
    assert feed["name"] == "Work"
    assert feed["include_completed"] is False
    assert feed["list_ids"] is None
    token = feed_path(feed).removeprefix("/api/calendar/").removesuffix(".ics")
    assert token.startswith("cal_")
    assert len(token) > 40
    assert feed["url"] == f"http://127.0.0.1:8000/api/calendar/{token}.ics"
    assert feed["webcal_url"] == f"webcal://127.0.0.1:8000/api/calendar/{token}.ics"

    async with engine.connect() as connection:
        row = (await connection.execute(select(CalendarFeed))).mappings().one()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(dict(row))

    listed = await client.get("/api/calendar-feeds", headers=auth_headers)
    assert listed.status_code == 200
    assert [f["id"] for f in listed.json()] == [feed["id"]]
    assert token not in listed.text
    assert "url" not in listed.json()[0]


async def test_the_feed_url_uses_public_url(database_url: str, engine: AsyncEngine) -> None:
    from app.main import create_app

    settings = make_settings(database_url, public_url="https://todo.example.com/")
    async with make_client(create_app(settings, engine=engine)) as client:
        headers = bearer(await register(client))
        feed = await create_feed(client, headers)
        assert feed["url"].startswith("https://todo.example.com/api/calendar/cal_")
        assert feed["webcal_url"].startswith("webcal://todo.example.com/api/calendar/cal_")
        # The URL works as given: its path is the route.
        assert (await client.get(feed_path(feed))).status_code == 200


async def test_the_feed_has_one_event_per_dated_open_task_as_the_contract_shapes_it(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    patch = await client.patch(
        "/api/auth/me", json={"time_zone": "Asia/Tokyo"}, headers=auth_headers
    )
    assert patch.status_code == 200
    all_day = await create_task(
        client,
        auth_headers,
        title="Pay rent, then; relax",
        description="Line one\nLine two",
        due_date="2030-03-05",
        tags=["home", "money, urgent"],
        priority="High",
    )
    timed = await create_task(
        client, auth_headers, due_date="2030-03-06", due_time="09:30", time_zone="Europe/Paris"
    )
    floating = await create_task(client, auth_headers, due_date="2030-03-07", due_time="18:00")
    await create_task(client, auth_headers, title="Undated")
    done = await create_task(client, auth_headers, due_date="2030-03-08", completed=True)
    feed = await create_feed(client, auth_headers, name="Mine")

    calendar = await read_feed(client, feed)
    assert str(calendar["X-WR-CALNAME"]) == "Mine"
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(hours=1)
    assert calendar["X-PUBLISHED-TTL"].to_ical() == b"PT1H"
    events = events_by_uid(calendar)
    assert set(events) == {all_day["id"], timed["id"], floating["id"]}  # not undated, not done

    event = events[all_day["id"]]
    assert str(event["SUMMARY"]) == "Pay rent, then; relax"
    assert str(event["DESCRIPTION"]) == "Line one\nLine two"
    assert event["DTSTART"].dt == date(2030, 3, 5)
    assert event["DTEND"].dt == date(2030, 3, 6)
    assert event["DTSTART"].params["VALUE"] == "DATE"
    assert [str(c) for c in event["CATEGORIES"].cats] == ["home", "money, urgent"]
    # iCalendar times have whole seconds.
    updated_at = datetime.fromisoformat(all_day["updated_at"]).replace(microsecond=0)
    assert event["DTSTAMP"].dt == updated_at

    event = events[timed["id"]]
    start = event["DTSTART"].dt
    assert start == datetime.fromisoformat(timed["due_at"])
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert (start.hour, start.minute) == (9, 30)
    assert event["DTEND"].dt - start == timedelta(hours=1)

    event = events[floating["id"]]  # no zone of its own: the owner's
    assert event["DTSTART"].params["TZID"] == "Asia/Tokyo"
    assert event["DTSTART"].dt == datetime(2030, 3, 7, 18, 0, tzinfo=ZoneInfo("Asia/Tokyo"))

    zones = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    assert zones == {"Europe/Paris", "Asia/Tokyo"}
    assert calendar.get_missing_tzids() == set()

    with_done = await create_feed(client, auth_headers, include_completed=True)
    assert done["id"] in events_by_uid(await read_feed(client, with_done))


async def test_a_recurring_task_expands_to_its_remaining_dates(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    # 2030-01-01 is a Tuesday: the rule's dates are Jan 1, 3, 8 and 10.
    task = await create_task(
        client, auth_headers, due_date="2030-01-01", recurrence="FREQ=WEEKLY;BYDAY=TU,TH;COUNT=4"
    )
    feed = await create_feed(client, auth_headers)
    window = (date(2029, 12, 1), date(2030, 3, 1))

    def dates(calendar: icalendar.Calendar) -> list[date]:
        occurrences = recurring_ical_events.of(calendar).between(*window)
        return sorted(event["DTSTART"].dt for event in occurrences)

    assert dates(await read_feed(client, feed)) == [
        date(2030, 1, 1),
        date(2030, 1, 3),
        date(2030, 1, 8),
        date(2030, 1, 10),
    ]
    # Completing the first occurrence moves the task to Jan 3: three dates are left, and the
    # completed copy is a task of its own (shown only by a feed that includes completed ones).
    done = await client.patch(
        f"/api/tasks/{task['id']}", json={"completed": True}, headers=auth_headers
    )
    assert done.json()["due_date"] == "2030-01-03"
    assert dates(await read_feed(client, feed)) == [
        date(2030, 1, 3),
        date(2030, 1, 8),
        date(2030, 1, 10),
    ]
    with_done = await create_feed(client, auth_headers, include_completed=True)
    assert dates(await read_feed(client, with_done)) == [
        date(2030, 1, 1),
        date(2030, 1, 3),
        date(2030, 1, 8),
        date(2030, 1, 10),
    ]


async def test_a_timed_recurring_task_keeps_its_wall_time_across_daylight_saving(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    # Paris moves its clocks on 2030-03-31; the task stays at 09:00 there, until the 2nd.
    await create_task(
        client,
        auth_headers,
        due_date="2030-03-29",
        due_time="09:00",
        time_zone="Europe/Paris",
        recurrence="FREQ=DAILY;UNTIL=20300402",
    )
    feed = await create_feed(client, auth_headers)
    calendar = await read_feed(client, feed)
    occurrences = recurring_ical_events.of(calendar).between(date(2030, 3, 1), date(2030, 5, 1))
    paris = ZoneInfo("Europe/Paris")
    starts = sorted(event["DTSTART"].dt for event in occurrences)
    assert [s.astimezone(paris).replace(tzinfo=None) for s in starts] == [
        datetime(2030, 3, day, 9, 0) for day in (29, 30, 31)
    ] + [datetime(2030, 4, day, 9, 0) for day in (1, 2)]
    assert starts[3].astimezone(UTC).time() == time(7, 0)  # summer time: UTC+2


async def test_the_etag_changes_only_with_the_content_and_answers_304(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    task = await create_task(client, auth_headers, due_date="2030-05-01")
    undated = await create_task(client, auth_headers, title="No date")
    feed = await create_feed(client, auth_headers)
    first = await client.get(feed_path(feed))
    etag = first.headers["etag"]
    assert etag.startswith('"')

    again = await client.get(feed_path(feed))
    assert again.headers["etag"] == etag
    assert again.content == first.content
    not_modified = await client.get(feed_path(feed), headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag

    # A change the feed does not show leaves it as it was.
    await client.patch(
        f"/api/tasks/{undated['id']}", json={"title": "Still none"}, headers=auth_headers
    )
    assert (await client.get(feed_path(feed), headers={"If-None-Match": etag})).status_code == 304

    await client.patch(f"/api/tasks/{task['id']}", json={"title": "Renamed"}, headers=auth_headers)
    changed = await client.get(feed_path(feed), headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert b"SUMMARY:Renamed" in changed.content


async def test_a_feed_shows_only_its_owners_tasks_and_others_cannot_manage_it(
    client: httpx.AsyncClient, auth_headers: dict[str, str], other_user_headers: dict[str, str]
) -> None:
    mine = await create_task(client, auth_headers, due_date="2030-05-01")
    await create_task(client, other_user_headers, due_date="2030-05-01", title="Not yours")
    feed = await create_feed(client, auth_headers)
    assert set(events_by_uid(await read_feed(client, feed))) == {mine["id"]}

    assert (await client.get("/api/calendar-feeds", headers=other_user_headers)).json() == []
    response = await client.delete(f"/api/calendar-feeds/{feed['id']}", headers=other_user_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "calendar_feed_not_found"
    assert (await client.get(feed_path(feed))).status_code == 200  # still works


async def test_a_deleted_feed_stops_working_at_once(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    feed = await create_feed(client, auth_headers)
    kept = await create_feed(client, auth_headers)
    assert (await client.get(feed_path(feed))).status_code == 200
    response = await client.delete(f"/api/calendar-feeds/{feed['id']}", headers=auth_headers)
    assert response.status_code == 204
    gone = await client.get(feed_path(feed))
    assert gone.status_code == 404
    assert gone.json()["code"] == "calendar_feed_not_found"
    assert (await client.get(feed_path(kept))).status_code == 200
    again = await client.delete(f"/api/calendar-feeds/{feed['id']}", headers=auth_headers)
    assert again.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/calendar/cal_" + "A" * 43 + ".ics",  # well-formed, unknown
        "/api/calendar/cal_short.ics",
        "/api/calendar/" + "x" * 5000 + ".ics",
        "/api/calendar/%00.ics",
        "/api/calendar/cal_" + "A" * 43,  # no .ics
    ],
)
async def test_an_unknown_or_malformed_token_is_not_found(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": ""}, 422),
        ({"name": "   "}, 422),
        ({"name": "x" * 101}, 422),
        ({"name": None}, 422),
        ({"name": "a\x00b"}, 422),
        ({"include_completed": "maybe"}, 422),
        ({"list_ids": "all"}, 422),
        ({"list_ids": ["not-a-uuid"]}, 422),
        ({"list_ids": []}, 422),
        ({"list_ids": [str(uuid.uuid4())]}, 404),  # a list the caller cannot see
    ],
)
async def test_bad_input_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, auth_headers: dict[str, str], body: dict[str, Any], status: int
) -> None:
    response = await client.post("/api/calendar-feeds", json=body, headers=auth_headers)
    assert response.status_code == status, response.text
    assert "detail" in response.json()
    if status == 404:
        assert response.json()["code"] == "list_not_found"
    assert (await client.get("/api/calendar-feeds", headers=auth_headers)).json() == []


async def test_malformed_requests_get_4xx(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    not_json = await client.post(
        "/api/calendar-feeds",
        content=b"{nope",
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code in (400, 422)
    bad_id = await client.delete("/api/calendar-feeds/not-a-uuid", headers=auth_headers)
    assert bad_id.status_code == 422
    anonymous = await client.post("/api/calendar-feeds", json={})
    assert anonymous.status_code == 401
    assert (await client.get("/api/calendar-feeds")).status_code == 401


async def test_a_personal_access_token_cannot_manage_feeds(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    # A leaked script token must not mint feed URLs that outlive its own revocation.
    created = await client.post("/api/auth/tokens", json={"name": "s"}, headers=auth_headers)
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    for response in (
        await client.post("/api/calendar-feeds", json={}, headers=headers),
        await client.get("/api/calendar-feeds", headers=headers),
    ):
        assert response.status_code == 403


async def test_the_access_log_never_shows_a_feed_token(
    client: httpx.AsyncClient, auth_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    feed = await create_feed(client, auth_headers)
    token = feed_path(feed).removeprefix("/api/calendar/").removesuffix(".ics")
    await client.get(feed_path(feed))
    await client.get(feed_path(feed).replace(token, token[:-1] + "x"))  # unknown: 404
    # The service's own records (the test's HTTP client logs its URLs under `httpx`).
    records = [r for r in caplog.records if r.name.startswith(("app", "uvicorn"))]
    lines = [r.getMessage() + str(getattr(r, "http", "")) for r in records]
    assert any("/api/calendar/{token}.ics" in line for line in lines)
    assert not any(token[4:20] in line for line in lines)


async def test_head_answers_like_get(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    feed = await create_feed(client, auth_headers)
    get = await client.get(feed_path(feed))
    head = await client.head(feed_path(feed))
    assert head.status_code == 200
    assert head.headers["etag"] == get.headers["etag"]
    assert head.content == b""


async def test_concurrent_deletes_of_one_feed_succeed_once(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    feed = await create_feed(client, auth_headers)
    path = f"/api/calendar-feeds/{feed['id']}"
    responses = await asyncio.gather(*(client.delete(path, headers=auth_headers) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [204, 404, 404, 404, 404]
    assert (await client.get(feed_path(feed))).status_code == 404


async def make_list(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> Any:
    response = await client.post("/api/lists", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_feed_naming_lists_shows_only_their_tasks(
    client: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    work = await make_list(client, auth_headers, "Work")
    home = await make_list(client, auth_headers, "Home")
    in_work = await create_task(client, auth_headers, due_date="2030-05-01", list_id=work["id"])
    in_home = await create_task(client, auth_headers, due_date="2030-05-02", list_id=home["id"])
    await create_task(client, auth_headers, due_date="2030-05-03")  # in the Inbox
    only_work = await create_feed(client, auth_headers, list_ids=[work["id"]])
    assert only_work["list_ids"] == [work["id"]]
    assert set(events_by_uid(await read_feed(client, only_work))) == {in_work["id"]}
    both = await create_feed(client, auth_headers, list_ids=[work["id"], home["id"]])
    assert set(events_by_uid(await read_feed(client, both))) == {in_work["id"], in_home["id"]}
    everything = await create_feed(client, auth_headers)
    assert len(events_by_uid(await read_feed(client, everything))) == 3


async def test_another_users_list_is_not_found_and_its_tasks_never_show(
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    other_user_headers: dict[str, str],
    engine: AsyncEngine,
) -> None:
    theirs = await make_list(client, other_user_headers, "Theirs")
    hidden = await create_task(
        client, other_user_headers, due_date="2030-05-01", list_id=theirs["id"]
    )
    mine = await make_list(client, auth_headers, "Mine")
    response = await client.post(
        "/api/calendar-feeds", json={"list_ids": [mine["id"], theirs["id"]]}, headers=auth_headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "list_not_found"
    assert (await client.get("/api/calendar-feeds", headers=auth_headers)).json() == []

    # Shared with the feed's owner, its task shows (the visibility rule, not who created it)...
    me = await user_id_of(client, auth_headers)
    await add_member(engine, theirs["id"], me, role="viewer")
    feed = await create_feed(client, auth_headers, list_ids=[theirs["id"]])
    everything = await create_feed(client, auth_headers)
    assert set(events_by_uid(await read_feed(client, feed))) == {hidden["id"]}
    assert set(events_by_uid(await read_feed(client, everything))) == {hidden["id"]}
    # ... and once the owner is no longer a member, it never shows, by either feed.
    await remove_member(engine, theirs["id"], me)
    assert events_by_uid(await read_feed(client, feed)) == {}
    assert events_by_uid(await read_feed(client, everything)) == {}
