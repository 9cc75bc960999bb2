"""Deadlines on the London clock: school days, working hours, bank holidays and the nights the clocks change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from vhub.triage.calendar import SchoolDayStart, add_hours, add_working_hours, next_school_day_start
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
    term_dates_from=date(2026, 1, 1),
    term_dates_until=date(2026, 12, 31),
    closures=(),
)
HOLIDAY_WEEK = OPEN_ALL_YEAR.model_copy(update={"closures": ((date(2026, 11, 23), date(2026, 11, 27)),)})
NO_TERM_DATES = OPEN_ALL_YEAR.model_copy(update={"term_dates_from": None, "term_dates_until": None})
CONFIG = load_config()
POLICY = CONFIG.policy.deadlines


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def not_configured(authority: str, day: str) -> tuple[str]:
    return (
        f"Term dates are not configured for {authority} on {day}: this deadline assumes a school day; "
        "check the school's own calendar",
    )


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
    assert SchoolDayStart(deadline) == next_school_day_start(incident, OPEN_ALL_YEAR)


def test_configured_closures_are_skipped() -> None:
    """A half-term week configured for the authority is not a school week."""
    assert SchoolDayStart(utc(2026, 11, 30, 8, 30)) == next_school_day_start(utc(2026, 11, 20, 22, 0), HOLIDAY_WEEK)


@pytest.mark.parametrize(
    ("authority", "incident", "deadline"),
    [
        # Friday in the 2025 summer holidays: the autumn term starts on Wednesday 3 September, 08:30 BST.
        ("herefordshire", utc(2025, 8, 1, 21, 0), utc(2025, 9, 3, 7, 30)),
        # Friday before the February 2025 half-term (2024/25, still in the backlog): Monday 24th, 08:30 GMT.
        ("worcestershire", utc(2025, 2, 14, 20, 0), utc(2025, 2, 24, 8, 30)),
        # Christmas Eve 2024: back on Monday 6 January 2025, 08:45 GMT.
        ("shropshire", utc(2024, 12, 24, 18, 0), utc(2025, 1, 6, 8, 45)),
        # Friday before the 2027 autumn half-term: Monday 1 November, 08:30 GMT.
        ("telford_wrekin", utc(2027, 10, 22, 19, 0), utc(2027, 11, 1, 8, 30)),
        # Friday before Easter 2028, the last year configured: Monday 24 April 2028, 08:30 BST.
        ("herefordshire", utc(2028, 4, 7, 19, 0), utc(2028, 4, 24, 7, 30)),
    ],
)
def test_configured_term_dates_reach_the_backlog_year_and_the_next_one(
    authority: str, incident: datetime, deadline: datetime
) -> None:
    """The authorities' holidays from the 2024/25 academic year to 2027/28 are not school days."""
    assert SchoolDayStart(deadline) == next_school_day_start(incident, CONFIG.authorities[authority])


def test_every_authority_states_the_range_its_term_dates_cover() -> None:
    """Each authority's calendar covers 1 September 2024 (the backlog's year) to 31 August 2028, said in config."""
    expected = {key: (date(2024, 9, 1), date(2028, 8, 31)) for key in CONFIG.authorities}
    actual = {key: (a.term_dates_from, a.term_dates_until) for key, a in CONFIG.authorities.items()}
    assert expected == actual


def test_a_day_past_the_term_dates_is_the_next_working_day_with_a_warning() -> None:
    """Past the configured term dates the deadline is the next working day, flagged for the reviewer."""
    expected = SchoolDayStart(
        utc(2028, 9, 4, 7, 45),  # Friday evening -> Monday 4 September 2028, 08:45 BST (Shropshire)
        not_configured("Shropshire", "Monday 4 September 2028"),
    )
    assert expected == next_school_day_start(utc(2028, 9, 1, 19, 0), CONFIG.authorities["shropshire"])


@pytest.mark.parametrize(
    ("incident", "deadline", "flagged_day"),
    [
        # Thursday before Easter 2027, past the test authority's range: Good Friday and Easter Monday skipped.
        (utc(2027, 3, 25, 20, 0), utc(2027, 3, 30, 7, 30), "Tuesday 30 March 2027"),
        # Before the range starts: the last working day of 2025 is flagged.
        (utc(2025, 12, 29, 22, 0), utc(2025, 12, 30, 8, 30), "Tuesday 30 December 2025"),
        # Before the range, but the day it lands on is covered: no warning.
        (utc(2025, 12, 31, 22, 0), utc(2026, 1, 2, 8, 30), None),
    ],
)
def test_only_the_day_the_deadline_lands_on_outside_the_range_is_flagged(
    incident: datetime, deadline: datetime, flagged_day: str | None
) -> None:
    """Outside the range weekends and bank holidays still count; the flag names the uncovered day it lands on."""
    warnings = not_configured("Test", flagged_day) if flagged_day else ()
    assert SchoolDayStart(deadline, warnings) == next_school_day_start(incident, OPEN_ALL_YEAR)


def test_an_authority_without_term_dates_flags_every_deadline() -> None:
    """An authority that states no term dates has each Encompass deadline flagged, even on an ordinary week."""
    expected = SchoolDayStart(utc(2026, 11, 23, 8, 30), not_configured("Test", "Monday 23 November 2026"))
    assert expected == next_school_day_start(utc(2026, 11, 23, 7, 0), NO_TERM_DATES)


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
