"""The v2 task members' types: due dates and times, zones, rules, reminders and tags, each
validated and documented (with examples) in one place."""

import unicodedata
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from app.core.validation import Documented, Storable, bounded
from app.tasks import due, recurrence

MAX_TAGS = 20
MAX_TAG_LENGTH = 50


def _text(value: Any) -> Any:
    """Dates and times come as JSON strings (pydantic would also read numbers as timestamps)."""
    if not isinstance(value, str | date | time):
        raise ValueError("must be a string")
    return value


Text = BeforeValidator(_text)


def _due_date(value: date) -> date:
    if not due.in_range(value):
        raise ValueError("must be between 1900-01-01 and 2999-12-31")
    return value


def _wall_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("must be a wall-clock time without an offset; the zone is time_zone")
    return value.replace(microsecond=0)


def short_time(value: time) -> str:
    return value.strftime("%H:%M" if value.second == 0 else "%H:%M:%S")


def _zone(value: str) -> str:
    if not due.is_known_zone(value):
        raise ValueError("must be an IANA time zone name such as Europe/Paris")
    return value


def _rule(value: str) -> str:
    try:
        return recurrence.normalise(value)
    except recurrence.InvalidRule as exc:
        raise ValueError(f"invalid recurrence rule: {exc}") from None


def _instant(value: datetime) -> datetime:
    if not due.in_range(value.date()):
        raise ValueError("must be between the years 1900 and 2999")
    return value.astimezone(UTC)


def _tag(value: str) -> str:
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise ValueError("must not contain control characters")
    return value


def _tags(values: list[str]) -> list[str]:
    """Duplicates that differ only in case collapse into the first; at most MAX_TAGS remain."""
    kept: dict[str, str] = {}
    for value in values:
        kept.setdefault(value.casefold(), value)
    if len(kept) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} different tags")
    return list(kept.values())


DueDate = Annotated[
    date,
    Text,
    AfterValidator(_due_date),
    Documented(due.DATE_PATTERN),
    Field(
        description="The day the task is due (1900-01-01 to 2999-12-31).", examples=["2026-03-09"]
    ),
]
# `format: time` would allow an offset, which a wall-clock time must not have.
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
DueTime = Annotated[
    time,
    Text,
    AfterValidator(_wall_time),
    WithJsonSchema({"type": "string", "pattern": TIME_PATTERN}),
    Field(
        description="Wall-clock time on `due_date` (`HH:MM` or `HH:MM:SS`); null = all day. "
        "Needs `due_date`.",
        examples=["09:30"],
    ),
]
# As shown: `HH:MM`, or `HH:MM:SS` when the seconds are not zero.
ShortTime = Annotated[time, PlainSerializer(short_time, return_type=str, when_used="json")]
# The schema lists the zones, so that clients (and schema-driven tests) know which are valid.
IanaZone = Annotated[
    str,
    bounded(max_length=64),
    AfterValidator(_zone),
    WithJsonSchema({"type": "string", "maxLength": 64, "enum": list(due.known_zones())}),
]
ZoneName = Annotated[
    IanaZone,
    Field(
        description="IANA time zone of `due_date`/`due_time`; null = the user's `time_zone`.",
        examples=["America/New_York"],
    ),
]
Rule = Annotated[
    str,
    bounded(min_length=1, max_length=recurrence.MAX_LENGTH),
    Storable,
    AfterValidator(_rule),
    Documented(r"^[^\x00]*[A-Za-z][^\x00]*$"),
    Field(
        description="RFC 5545 RRULE (an `RRULE:` prefix is dropped), FREQ from DAILY to YEARLY, "
        "without DTSTART, BYHOUR, BYMINUTE or BYSECOND; `due_date` is the first occurrence. "
        "Completing the task moves it to the next occurrence. Needs `due_date`.",
        examples=["FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=12"],
    ),
]
Instant = Annotated[
    AwareDatetime,
    Text,
    AfterValidator(_instant),
    Documented(due.DATE_TIME_PATTERN),
]
RemindAt = Annotated[
    Instant,
    Field(
        description="When to remind the user: an instant with a UTC offset. Setting it to "
        "another value clears `reminded_at`.",
        examples=["2026-03-09T08:45:00-04:00"],
    ),
]
# Trimmed; control characters (Unicode Cc) refused.
_NO_CONTROL = r"\x00-\x1f\x7f-\x9f"
_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TagName = Annotated[
    str,
    bounded(strip=True, min_length=1, max_length=MAX_TAG_LENGTH),
    Storable,
    AfterValidator(_tag),
    Documented(rf"^[^{_NO_CONTROL}]*[^{_NO_CONTROL}{_SPACE}][^{_NO_CONTROL}]*$"),
]
TagList = Annotated[
    list[TagName],
    AfterValidator(_tags),
    Field(
        description="Tags: each trimmed, 1-50 characters, no control characters; names that "
        "differ only in case are one tag (shown in the case first used); at most 20.",
        examples=[["work", "errands"]],
    ),
]
