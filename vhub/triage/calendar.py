"""Deadlines in Europe/London: working hours, school days and calendar hours.

Arithmetic is done on the local wall clock and converted to UTC at the end, so a deadline across the
night the clocks change lands on the right local time. Working time skips weekends and England's bank
holidays; school days also skip the authority's configured closures, and a school day outside the
authority's configured term dates comes with a warning for the reviewer instead of a silent guess.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays

from vhub.triage.config import Authority, DeadlinePolicy

LONDON = ZoneInfo("Europe/London")


@cache
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=[year]))


def is_bank_holiday(day: date) -> bool:
    return day in _bank_holidays(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def term_dates_cover(day: date, authority: Authority) -> bool:
    """Whether the authority's configured closures are known for ``day``."""
    first, last = authority.term_dates_from, authority.term_dates_until
    return first is not None and last is not None and first <= day <= last


def is_school_day(day: date, authority: Authority) -> bool:
    """A working day outside the closures; outside the term dates that is an assumption (see below)."""
    if not is_working_day(day):
        return False
    return not any(start <= day <= end for start, end in authority.closures)


def spoken_date(day: date) -> str:
    """``Monday 4 September 2028``: unambiguous to staff, and not masked in logs as a date of birth would be."""
    return f"{day:%A} {day.day} {day:%B %Y}"


class SchoolDayStart(NamedTuple):
    at: datetime  # aware, UTC
    warnings: tuple[str, ...] = ()  # for the reviewer: the day may be a holiday the configuration does not know


def _to_utc(day: date, at: time) -> datetime:
    """A London wall-clock time as UTC. In the hour the clocks skip, 01:30 means 02:30 BST; in the hour
    they repeat, the first (BST) occurrence is taken."""
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


def next_school_day_start(after: datetime, authority: Authority) -> SchoolDayStart:
    """The start of the first school day that begins after ``after``: the Operation Encompass deadline.

    On a day outside the authority's term dates only weekends and bank holidays are known, so that day is
    taken with a warning naming it: the school may be on holiday, and a person must check."""
    local = after.astimezone(LONDON)
    day = local.date()
    for _ in range(400):
        if is_school_day(day, authority):
            start = _to_utc(day, authority.school_day_start)
            if start > after:
                if term_dates_cover(day, authority):
                    return SchoolDayStart(start)
                return SchoolDayStart(
                    start,
                    (
                        f"Term dates are not configured for {authority.name} on {spoken_date(day)}: this deadline "
                        "assumes a school day; check the school's own calendar",
                    ),
                )
        day += timedelta(days=1)
    raise ValueError("no school day within 400 days: check the authority's closures")


def add_working_hours(start: datetime, hours: float, policy: DeadlinePolicy) -> datetime:
    """``start`` plus ``hours`` of working time (Mon–Fri, configured hours, not on bank holidays)."""
    remaining = timedelta(hours=hours)
    local = start.astimezone(LONDON).replace(tzinfo=None)
    day = local.date()
    for _ in range(3660):
        if is_working_day(day):
            opens = datetime.combine(day, policy.working_day_start)
            closes = datetime.combine(day, policy.working_day_end)
            begin = max(opens, local) if day == local.date() else opens
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    end = begin + remaining
                    return _to_utc(end.date(), end.time())
                remaining -= available
        day += timedelta(days=1)
    raise ValueError("working hours could not be added within ten years")


def add_hours(start: datetime, hours: float) -> datetime:
    """Calendar hours: elapsed time, whatever the clocks do."""
    return (start.astimezone(UTC) + timedelta(hours=hours)).astimezone(UTC)
