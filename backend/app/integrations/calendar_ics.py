"""A calendar feed's content: the owner's dated tasks as RFC 5545 iCalendar, built with the
`icalendar` package (which folds lines, escapes text and writes the VTIMEZONEs), and its ETag.

The content depends only on the tasks and the feed (no "now" in it: DTSTAMP is the task's
`updated_at`), so its hash is an ETag that changes exactly when the content does.
"""

import hashlib
import uuid
from datetime import UTC, date, timedelta
from typing import Any

from icalendar import Calendar, Event, vDuration, vRecur

from app.tasks import due
from app.tasks.recurrence import rule_from

Record = dict[str, Any]

PRODUCT_ID = "-//Todo API//Calendar feed//EN"
REFRESH = timedelta(hours=1)
TIMED_LENGTH = timedelta(hours=1)
# RFC 5545 PRIORITY: 1 highest, 5 medium, 9 lowest.
PRIORITIES = {"High": 1, "Medium": 5, "Low": 9}
# icalendar writes each zone's transitions as of its first and last date: from the earliest
# event's year to a little past the latest (at least to 2038, its own default).
LAST_ZONE_YEAR = 2038
COMPLETED_MARK = "✓ "


def render_feed(*, name: str, tasks: list[Record], zones: dict[uuid.UUID, str]) -> bytes:
    """The feed: one VEVENT per task. `zones` holds the zone of each task's creator, which a
    task without its own `time_zone` follows."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", name)  # RFC 7986
    calendar.add("x-wr-calname", name)  # Apple Calendar, Google Calendar, Outlook
    calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    years: list[int] = []
    for task in tasks:
        zone_name = task["time_zone"] or zones.get(task["user_id"], due.DEFAULT_ZONE)
        event = _event(task, zone_name)
        if task["due_time"] is not None:
            years.append(task["due_date"].year)
        calendar.add_component(event)
    if years:
        last = max(LAST_ZONE_YEAR, max(years) + 2)
        calendar.add_missing_timezones(
            first_date=date(min(years), 1, 1), last_date=date(last, 1, 1)
        )
    content: bytes = calendar.to_ical()
    return content


def _event(task: Record, zone_name: str) -> Event:
    event = Event()
    event.add("uid", str(task["id"]))
    event.add("dtstamp", task["updated_at"].astimezone(UTC))
    event.add("created", task["created_at"].astimezone(UTC))
    event.add("last-modified", task["updated_at"].astimezone(UTC))
    event.add("sequence", task["version"])
    title = task["title"]
    event.add("summary", COMPLETED_MARK + title if task["completed"] else title)
    if task["description"]:
        event.add("description", task["description"])
    event.add("priority", PRIORITIES[str(task["priority"])])
    if task["tags"]:
        event.add("categories", list(task["tags"]))
    event.add("transp", "TRANSPARENT")  # a due task does not make its owner busy
    if task["due_time"] is None:
        event.add("dtstart", task["due_date"])
        event.add("dtend", task["due_date"] + timedelta(days=1))
    else:
        zone = due.zone(zone_name)
        event.add("dtstart", task["due_at"].astimezone(zone))
        event.add("dtend", (task["due_at"] + TIMED_LENGTH).astimezone(zone))
    if task["recurrence"]:
        rule = rule_from(
            task["recurrence"],
            anchor=task["recurrence_anchor"] or task["due_date"],
            current=task["due_date"],
            due_time=task["due_time"],
            zone_name=zone_name,
        )
        event.add("rrule", vRecur.from_ical(rule))
    return event


def feed_etag(content: bytes) -> str:
    """A strong ETag: the content's hash, so equal content has the same tag on every instance."""
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def modified_since(content_etag: str, if_none_match: str | None) -> bool:
    """Whether the client's copy is stale: If-None-Match (weak comparison, `*` or a list)
    names no tag equal to ours."""
    if if_none_match is None:
        return True
    if if_none_match.strip() == "*":
        return False
    ours = content_etag.strip('"')
    tags = (tag.strip().removeprefix("W/").strip('"') for tag in if_none_match.split(","))
    return ours not in tags
