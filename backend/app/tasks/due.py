"""Time zones and due instants: wall-clock dates and times in IANA zones, turned into UTC.

Zones come from the standard library's `zoneinfo`, backed by the `tzdata` package, so the
service knows every IANA zone even where the system has no zone files.

A wall time is placed in its zone with `fold=0`, which gives API.md's rules for the two
kinds of DST transition: a time that does not exist (a gap) is read with the offset before the
gap, i.e. it moves forward by the gap (02:30 on a spring-forward night is 03:30); an ambiguous
time (a fold) means its first occurrence (the earlier instant).
"""

import functools
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources

# Dates the service accepts: wide enough for any to-do list, narrow enough that every date
# (and the day after it, and any UTC offset of it) is a valid `datetime`.
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2999, 12, 31)
# Documents FIRST_DATE..LAST_DATE in the OpenAPI schema, where `format: date` cannot.
DATE_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
DATE_TIME_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]"

DEFAULT_ZONE = "UTC"


@functools.cache
def known_zones() -> tuple[str, ...]:
    """Every IANA zone name (links such as `US/Eastern` included), as the tzdata package lists
    them: the same set on every machine, whatever zone files the system has."""
    return tuple(resources.files("tzdata").joinpath("zones").read_text("utf-8").split())


@functools.cache
def _known_zone_set() -> frozenset[str]:
    return frozenset(known_zones())


def is_known_zone(name: str) -> bool:
    return name in _known_zone_set()


@functools.cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def in_range(day: date) -> bool:
    return FIRST_DATE <= day <= LAST_DATE


def instant(wall: datetime, zone_name: str) -> datetime:
    """The UTC instant of a naive wall-clock time in a zone (gap: forward; fold: first)."""
    return wall.replace(tzinfo=zone(zone_name), fold=0).astimezone(UTC)


def due_at(due_date: date | None, due_time: time | None, zone_name: str) -> datetime | None:
    """When a task is due: its date and time in its zone; for an all-day task, the first
    instant after that day (midnight at the start of the next one)."""
    if due_date is None:
        return None
    if due_time is None:
        return instant(datetime.combine(due_date + timedelta(days=1), time(0)), zone_name)
    return instant(datetime.combine(due_date, due_time), zone_name)


def today_in(zone_name: str) -> date:
    return datetime.now(zone(zone_name)).date()


def moved_instant(moment: datetime, days: int, zone_name: str) -> datetime:
    """`moment` moved by a number of days on the wall clock of a zone: a 09:00 reminder stays
    at 09:00 across a DST change."""
    wall = moment.astimezone(zone(zone_name)).replace(tzinfo=None)
    return instant(wall + timedelta(days=days), zone_name)
