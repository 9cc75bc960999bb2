"""Deadlines on the London clock: school days, working hours, bank holidays and the nights the clocks change."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from vhub.triage.calendar import add_hours, add_working_hours, next_school_day_start
from vhub.triage.config import Authority, load_config

OPEN_ALL_YEAR = Authority(
    key="test",
    name="Test",
    childrens_services="Test Front Door",
    education_team="Test EHE",
    marac="Test MARAC",
    policing_area="Test",
    postcode_districts=("WR1",),
    encompass_form="full",
    school_day_start=time(8, 30),
    closures=(),
)
HOLIDAY_WEEK = OPEN_ALL_YEAR.model_copy(
    update={"closures": ((datetime(2026, 11, 23).date(), datetime(2026, 11, 27).date()),)}
)
POLICY = load_config().policy.deadlines


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("incident", "deadline"),
    [
        (utc(2026, 11, 20, 22, 0), utc(2026, 11, 23, 8, 30)),  # Friday 22:00 -> Monday 08:30
        (utc(2026, 11, 23, 7, 0), utc(2026, 11, 23, 8, 30)),  # before school on a school day: that morning
        (utc(2026, 11, 23, 8, 30), utc(2026, 11, 24, 8, 30)),  # at the start: the next school day
        (utc(2026, 5, 3, 19, 0), utc(2026, 5, 5, 7, 30)),  # Sunday before May Day -> Tuesday 08:30 BST
        (utc(2026, 3, 28, 22, 0), utc(2026, 3, 30, 7, 30)),  # clocks go forward: Monday 08:30 BST
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 8, 30)),  # 01:30 BST on the night they go back: 08:30 GMT
    ],
)
def test_encompass_deadline_is_the_next_school_day_start(incident: datetime, deadline: datetime) -> None:
    """Weekends and bank holidays are skipped and the start time is London's, summer or winter."""
    assert deadline == next_school_day_start(incident, OPEN_ALL_YEAR)


def test_configured_closures_are_skipped() -> None:
    """A half-term week configured for the authority is not a school week."""
    assert utc(2026, 11, 30, 8, 30) == next_school_day_start(utc(2026, 11, 20, 22, 0), HOLIDAY_WEEK)


@pytest.mark.parametrize(
    ("start", "hours", "deadline"),
    [
        (utc(2026, 11, 20, 15, 0), 4, utc(2026, 11, 23, 11, 0)),  # Friday 15:00 + 4 working hours -> Monday 11:00
        (utc(2026, 11, 23, 7, 0), 4, utc(2026, 11, 23, 13, 0)),  # before opening: counted from 09:00
        (utc(2026, 11, 23, 10, 0), 24, utc(2026, 11, 26, 10, 0)),  # amber: three working days
        (utc(2026, 5, 1, 15, 0), 4, utc(2026, 5, 5, 11, 0)),  # Fri 16:00 BST: 1 h Friday, May Day skipped, Tue 12:00
        (utc(2026, 3, 27, 15, 0), 4, utc(2026, 3, 30, 10, 0)),  # Friday GMT -> Monday 11:00 BST
        (utc(2026, 11, 21, 12, 0), 4, utc(2026, 11, 23, 13, 0)),  # Saturday: from Monday's opening
    ],
)
def test_working_hours(start: datetime, hours: float, deadline: datetime) -> None:
    """Working hours run 09:00-17:00 London time, Monday to Friday, not on bank holidays."""
    assert deadline == add_working_hours(start, hours, POLICY)


def test_calendar_hours_are_elapsed_time_across_a_clock_change() -> None:
    """72 hours from Saturday noon GMT is 72 elapsed hours, 13:00 BST on Tuesday."""
    assert utc(2026, 3, 31, 12, 0) == add_hours(utc(2026, 3, 28, 12, 0), 72)
