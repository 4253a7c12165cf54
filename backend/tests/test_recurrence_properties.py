"""Property test: for random rules, start dates and completion days, the next occurrence is
exactly what the RRULE library (python-dateutil, used plainly) yields, with RFC 5545's
DTSTART rule (the anchor is the first occurrence and COUNT counts it). This also checks the
bounded search (`app.tasks.recurrence`): its shifted calendar must give the same dates."""

from datetime import date, datetime, time, timedelta

from dateutil.rrule import rrule, rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from app.tasks.recurrence import SEARCH_YEARS, Series, normalise

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def rules(draw: st.DrawFn) -> str:
    """RRULEs that produce dates at least every few years (so that plain dateutil, which walks
    to the year 9999 when a rule never matches, answers quickly)."""
    frequency = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    interval = draw(st.integers(1, 4))
    parts = [f"FREQ={frequency}"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
        parts.append("BYDAY=" + ",".join(days))
    elif frequency in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        high = 31 if interval == 1 else 28
        days_of_month = draw(
            st.lists(st.integers(1, high) | st.just(-1), min_size=1, max_size=3, unique=True)
        )
        parts.append("BYMONTHDAY=" + ",".join(map(str, days_of_month)))
    if frequency in ("YEARLY", "DAILY", "WEEKLY") and draw(st.booleans()):
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
        if any("BYMONTHDAY" in p for p in parts):
            parts = [p for p in parts if not p.startswith("BYMONTHDAY")]
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    ending = draw(st.sampled_from(["none", "count", "until"]))
    if ending == "count":
        parts.append(f"COUNT={draw(st.integers(1, 12))}")
    elif ending == "until":
        parts.append(f"UNTIL={draw(st.dates(date(1990, 1, 1), date(2110, 1, 1))):%Y%m%d}")
    return ";".join(parts)


def expected_next(rule: str, anchor: date, current: date, today: date) -> date | None:
    """The first occurrence after `current` and not before `today`, from plain dateutil."""
    start = datetime.combine(anchor, time(0))
    parsed = rrulestr(rule, dtstart=start)
    assert isinstance(parsed, rrule)
    threshold = datetime.combine(max(current + timedelta(days=1), today), time(0))
    horizon = threshold + timedelta(days=365 * SEARCH_YEARS)
    if "COUNT=" in rule:
        occurrences = list(parsed)
        if start not in occurrences:  # DTSTART is the first occurrence and counts
            occurrences = [start, *occurrences[:-1]]
        found = next((d for d in occurrences if d >= threshold), None)
    else:
        found = parsed.after(threshold, inc=True)
    if found is None or found > horizon:
        return None
    return found.date()


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(
    rule=rules(),
    anchor=st.dates(date(1990, 1, 1), date(2100, 12, 31)),
    current_offset=st.integers(0, 800),
    today=st.dates(date(1990, 1, 1), date(2110, 12, 31)),
)
def test_next_occurrence_is_what_dateutil_yields(
    rule: str, anchor: date, current_offset: int, today: date
) -> None:
    current = anchor + timedelta(days=current_offset)
    series = Series(normalise(rule), anchor, None, "UTC")
    assert series.next_after(current, today) == expected_next(rule, anchor, current, today)
