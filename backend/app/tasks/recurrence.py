"""Recurring tasks: RFC 5545 RRULEs, parsed and stepped by python-dateutil.

A rule's DTSTART is the task's *anchor* (`recurrence_anchor`): its first due date, moved only
when the client sets a rule or changes `due_date`. Occurrences are dates; the time of day is the
task's `due_time`, so BYHOUR, BYMINUTE and BYSECOND are refused, and FREQ finer than DAILY too.

RFC 5545 semantics that dateutil leaves to its caller, applied here:
- DTSTART always counts as the first occurrence, even where the rule alone would not produce
  it, and COUNT includes it: when the anchor is not one of the rule's own dates, the rule
  contributes COUNT - 1 dates after it.
- UNTIL is inclusive and may be a DATE (`20261231`), a floating DATE-TIME (`20261231T090000`,
  compared with the occurrence's wall time) or a UTC DATE-TIME (`20261231T090000Z`, compared
  with the occurrence's instant in the task's zone). COUNT and UNTIL together are refused (the
  RFC says MUST NOT).

Bounded work. dateutil checks UNTIL only when it finds a date: for a rule that finds none (say
`FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`) it walks every period to the year 9999, several seconds
for a daily rule. So every search runs in a copy of the calendar shifted by a whole number of
400-year Gregorian cycles (the calendar repeats exactly: same weekdays, same leap days), placed
so that the year 9999 comes at most SEARCH_YEARS + 400 years after the search starts; the
answer is shifted back. A date more than SEARCH_YEARS after the search start counts as none.
"""

import re
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.rrule import rrule, rrulestr

from app.tasks import due

SEARCH_YEARS = 30
CYCLE_YEARS = 400  # the Gregorian calendar's period
LAST_SEARCH_YEAR = datetime.max.year - SEARCH_YEARS - 1
MAX_LENGTH = 500

# Finer than DAILY, or clock parts: the time of day is `due_time`, not the rule's.
REFUSED_PARTS = {
    "BYHOUR": "BYHOUR is not supported: the time of day is due_time",
    "BYMINUTE": "BYMINUTE is not supported: the time of day is due_time",
    "BYSECOND": "BYSECOND is not supported: the time of day is due_time",
    "DTSTART": "DTSTART is not allowed in the rule: the first occurrence is due_date",
}
FREQUENCIES = {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}
UNTIL_FORMS = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")


class InvalidRule(ValueError):
    """A rule that cannot be used; the message says why, for the 422."""


@dataclass(frozen=True)
class Until:
    """The UNTIL part as written: a date, or a date-time (floating, or UTC when `utc`)."""

    moment: datetime
    is_date: bool
    utc: bool

    def last_date(self, due_time: time | None, zone_name: str) -> date:
        """The last occurrence date UNTIL allows, for a task at `due_time` in `zone_name`."""
        if self.is_date:
            return self.moment.date()
        wall = self.moment
        if self.utc:
            wall = due.zone(zone_name).fromutc(self.moment.replace(tzinfo=due.zone(zone_name)))
            wall = wall.replace(tzinfo=None)
        return wall.date() if (due_time or time(0)) <= wall.time() else wall.date() - timedelta(1)


def _parts(rule: str) -> dict[str, str]:
    """NAME=VALUE parts, only to check which parts a rule has; dateutil parses the values."""
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, separator, value = part.partition("=")
        if not separator or not name or not value:
            raise InvalidRule(f"'{part}' is not a NAME=VALUE rule part")
        if name in parts:
            raise InvalidRule(f"{name} appears more than once")
        parts[name] = value
    return parts


def normalise(text: str) -> str:
    """The rule as stored: trimmed, upper-case, without an `RRULE:` prefix. Raises InvalidRule
    for what is wrong with the rule on its own (whether it ever produces a date depends on the
    anchor: see `check_produces`)."""
    rule = text.strip().upper()
    rule = rule.removeprefix("RRULE:").strip()
    if not rule:
        raise InvalidRule("the rule is empty")
    if "DTSTART" in rule:
        raise InvalidRule(REFUSED_PARTS["DTSTART"])
    if any(character in rule for character in ":\r\n"):
        raise InvalidRule("only one RRULE is allowed, without other properties")
    parts = _parts(rule)
    for name, reason in REFUSED_PARTS.items():
        if name in parts:
            raise InvalidRule(reason)
    frequency = parts.get("FREQ")
    if frequency is None:
        raise InvalidRule("FREQ is required")
    if frequency not in FREQUENCIES:
        raise InvalidRule("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
    if "COUNT" in parts and "UNTIL" in parts:
        raise InvalidRule("COUNT and UNTIL cannot be used together")
    for name in ("COUNT", "INTERVAL"):
        if name in parts and not (parts[name].isdigit() and 1 <= int(parts[name]) <= 100_000):
            raise InvalidRule(f"{name} must be a whole number from 1 to 100000")
    if "UNTIL" in parts:
        _until(parts["UNTIL"])
    try:
        _parse(rule, date(2026, 1, 1))
    except InvalidRule:
        raise
    except Exception as exc:  # dateutil says what is wrong in ValueError, but not only
        raise InvalidRule(f"not a valid RRULE: {exc}") from None
    return rule


def _until(value: str) -> Until:
    match = UNTIL_FORMS.fullmatch(value)
    if match is None:
        raise InvalidRule("UNTIL must be YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ")
    day, clock, utc = match.groups()
    try:
        moment = datetime.strptime(day + (clock or "000000"), "%Y%m%d%H%M%S")
    except ValueError:
        raise InvalidRule("UNTIL is not a valid date") from None
    if not due.in_range(moment.date()):
        raise InvalidRule("UNTIL must be between 1900 and 2999")
    return Until(moment, is_date=clock is None, utc=bool(utc))


def _parse(rule: str, anchor: date) -> rrule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = rrulestr(rule, dtstart=datetime.combine(anchor, time(0)), ignoretz=True)
    assert isinstance(parsed, rrule)  # one RRULE, no other properties (checked above)
    return parsed


@dataclass(frozen=True)
class Series:
    """A task's rule as it applies to that task: anchor, time of day and zone."""

    rule: str
    anchor: date
    due_time: time | None
    zone_name: str

    def first_after(self, start: date) -> date | None:
        """The first occurrence on or after `start` (the anchor included), within
        SEARCH_YEARS of `start`; None when the series has ended or finds none by then."""
        if start <= self.anchor:
            return self.anchor
        return self._search(start, anchor_counts=True)

    def next_after(self, current: date, today: date) -> date | None:
        """Where completing the occurrence `current` moves the task: the first occurrence after
        `current` and not before `today`."""
        return self.first_after(max(current + timedelta(days=1), today))

    def produces_a_date(self) -> bool:
        """Whether the rule itself produces a date from the anchor on. One that never does
        (BYMONTH=2;BYMONTHDAY=30, or UNTIL before the anchor) is refused, although the anchor
        would count as an occurrence."""
        return self._search(self.anchor, anchor_counts=False) is not None

    def _search(self, start: date, *, anchor_counts: bool) -> date | None:
        parts = _parts(self.rule)
        # Shift into a calendar whose year 9999 bounds dateutil's walk (module docstring).
        shift = max(0, (LAST_SEARCH_YEAR - start.year) // CYCLE_YEARS) * CYCLE_YEARS
        anchor = _midnight(self.anchor, shift)
        limit = _midnight(start, shift) + timedelta(days=365 * SEARCH_YEARS)
        if "UNTIL" in parts:
            last = _until(parts["UNTIL"]).last_date(self.due_time, self.zone_name)
            limit = min(limit, _midnight(last, shift))
        try:
            rule = _parse(self.rule, anchor.date())
            count = int(parts["COUNT"]) if "COUNT" in parts else None
            if count is not None and anchor_counts and rule.after(anchor, inc=True) != anchor:
                count -= 1  # the anchor is the first occurrence and counts (RFC 5545)
            if count == 0:
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # COUNT with our UNTIL: dateutil honours both
                bounded = rule.replace(until=limit, count=count)
            found = bounded.after(_midnight(start, shift), inc=True)
        except (ValueError, OverflowError):
            return None  # dateutil ran off the calendar: no such date
        if found is None:
            return None
        result = _shifted(found.date(), -shift)
        return result if due.in_range(result) else None


def _midnight(day: date, shift: int) -> datetime:
    return datetime.combine(_shifted(day, shift), time(0))


def _shifted(day: date, years: int) -> date:
    return day.replace(year=day.year + years)


def rule_from(
    rule: str, *, anchor: date, current: date, due_time: time | None, zone_name: str
) -> str:
    """The task's rule as an RFC 5545 RRULE for a calendar event whose DTSTART is the current
    occurrence (`current`, the task's due date) instead of the anchor: the same dates from
    there on. COUNT becomes what is left of it (the occurrences before `current` are done), and
    UNTIL takes the form RFC 5545 asks for beside that DTSTART: a DATE for an all-day task, a
    UTC DATE-TIME for a timed one (whose DTSTART has a TZID)."""
    parts = _parts(rule)
    if "COUNT" in parts and current > anchor:
        total = int(parts["COUNT"])
        parts["COUNT"] = str(max(1, total - _occurrences_before(rule, total, anchor, current)))
    if "UNTIL" in parts:
        last = _until(parts["UNTIL"]).last_date(due_time, zone_name)
        if due_time is None:
            parts["UNTIL"] = last.strftime("%Y%m%d")
        else:
            moment = due.instant(datetime.combine(last, due_time), zone_name)
            parts["UNTIL"] = moment.strftime("%Y%m%dT%H%M%SZ")
    return ";".join(f"{name}={value}" for name, value in parts.items())


def _occurrences_before(rule: str, total: int, anchor: date, current: date) -> int:
    """How many of the series' occurrences (COUNT counts the anchor first, RFC 5545) come
    before `current`. Bounded by the days between the two dates."""
    parsed = _parse(rule, anchor)
    start = _midnight(anchor, 0)
    anchor_is_rule_date = parsed.after(start, inc=True) == start
    count = total if anchor_is_rule_date else total - 1
    if count == 0:
        return 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # COUNT with our UNTIL: dateutil honours both
        before = parsed.replace(count=count, until=_midnight(current, 0) - timedelta(seconds=1))
    return sum(1 for _ in before) + (0 if anchor_is_rule_date else 1)
