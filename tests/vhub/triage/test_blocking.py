"""What a data-quality item holds up and by when: the deadlines triage would set for the blocked action."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.factories import raw_incident
from vhub.models import validate_incident
from vhub.triage import load_config
from vhub.triage.blocking import blocked_by_invalid_record, blocked_by_invalid_request, blocked_by_problems
from vhub.triage.calendar import add_working_hours, next_school_day_start
from vhub.triage.history import History
from vhub.triage.rules import triage

CONFIG = load_config()
VERSION = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)


def test_an_unknown_age_holds_up_a_notice_due_before_school() -> None:
    """A child of a Friday night domestic abuse incident with no age: due at Monday's school start, not in 72 hours."""
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = None
    incident = validate_incident(raw)
    result = triage(incident, History(), CONFIG, now=VERSION)
    assert ["age_unknown"] == [problem.code for problem in result.problems]
    blocked = blocked_by_problems(incident, result, CONFIG)
    school_start = next_school_day_start(incident.occurred_at, CONFIG.authorities["worcestershire"]).at
    assert (school_start, "whether to refer or notify for a person of unknown age for N100003") == (
        blocked.deadline,
        blocked.what,
    )


def test_an_unreadable_incident_holds_up_the_soonest_action_it_could_need() -> None:
    """A domestic abuse record that failed validation is due by the sooner of a red referral and a school notice."""
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = "31/02/2016"
    blocked = blocked_by_invalid_record(raw, VERSION, CONFIG)
    occurred = datetime(2026, 3, 13, 22, 40, tzinfo=UTC)
    red = add_working_hours(occurred, CONFIG.policy.deadlines.referral_red_working_hours, CONFIG.policy.deadlines)
    schools = min(next_school_day_start(occurred, a).at for a in CONFIG.authorities.values())
    assert min(red, schools) == blocked.deadline
    assert "Operation Encompass" in blocked.what


def test_an_unreadable_time_falls_back_to_the_version() -> None:
    """With no readable time of the incident, the version's time starts the clock (never no deadline)."""
    raw = raw_incident(occurred_at="not a time", domestic_abuse=False)
    blocked = blocked_by_invalid_record(raw, VERSION, CONFIG)
    red = add_working_hours(VERSION, CONFIG.policy.deadlines.referral_red_working_hours, CONFIG.policy.deadlines)
    assert (red, False) == (blocked.deadline, "Encompass" in blocked.what)


def test_an_unreadable_request_is_due_at_the_end_of_its_due_date() -> None:
    """An ISR request that could not be read is due when its response would be: the end of the working day due."""
    blocked = blocked_by_invalid_request({"due_date": "20/03/2026", "subjects": "?"}, VERSION, CONFIG)
    end = CONFIG.policy.deadlines.working_day_end
    assert datetime(2026, 3, 20, end.hour, end.minute, tzinfo=UTC) == blocked.deadline  # GMT in March
