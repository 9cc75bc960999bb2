"""Triage rules at their boundaries, with hand-built incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import raw_incident
from vhub.models import DASH_KEYS, Incident, validate_incident
from vhub.triage import History, RiskLevel, Workflow, load_config, person_key, triage
from vhub.triage.history import Sighting
from vhub.triage.model import RecipientKind, TriageResult

CONFIG = load_config()
NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def incident(**changes: Any) -> Incident:
    raw = raw_incident()
    for key, value in changes.items():
        if key == "child":
            raw["people"][2].update(value)
        elif key == "victim":
            raw["people"][0].update(value)
        elif key == "yes":
            raw["dash"]["answers"] = {k: i < value for i, k in enumerate(DASH_KEYS)}
        else:
            raw[key] = value
    return validate_incident(raw)


def run(case: Incident, history: History | None = None) -> TriageResult:
    return triage(case, history or History(), CONFIG, now=NOW)


def workflows(result: TriageResult) -> list[str]:
    return sorted(f"{action.workflow.value}:{action.subject}" for action in result.actions)


def test_thirteen_yes_answers_are_not_high_risk() -> None:
    """13 DASH yes answers do not make the incident high risk on their own."""
    result = run(incident(yes=13, ppn=None))
    assert "hidden_high_risk" not in result.flags
    assert not any("DASH: 13 of 27" in reason for reason in result.reasons)
    assert Workflow.marac not in {action.workflow for action in result.actions}


def test_fourteen_yes_answers_are_high_risk_whatever_the_grading() -> None:
    """14 yes answers make it red, flag hidden high risk (graded medium) and refer the victim to MARAC."""
    result = run(incident(yes=14, ppn=None))
    assert RiskLevel.red == result.risk
    assert "hidden_high_risk" in result.flags
    assert "Hidden high risk: the officer graded the DASH medium" in result.reasons
    marac = [action for action in result.actions if action.workflow is Workflow.marac]
    assert ["N100001"] == [action.subject for action in marac]
    assert ("MARAC: DASH: 14 yes answers (visible high risk)",) == marac[0].reasons


@pytest.mark.parametrize(
    ("dob", "age", "notified"),
    [
        ("14/03/2022", 3, False),
        ("13/03/2022", 4, True),
        ("14/03/2008", 17, True),
        ("13/03/2008", 18, False),
    ],
)
def test_encompass_covers_ages_four_to_seventeen(dob: str, age: int, notified: bool) -> None:
    """A child of 3 or 18 gets no Operation Encompass notice; 4 and 17 do (present or not)."""
    result = run(incident(child={"date_of_birth": dob, "present": False}))
    encompass = [a for a in result.actions if a.workflow is Workflow.encompass]
    assert notified == bool(encompass), (age, result.actions)


def test_encompass_goes_to_the_school_with_its_authoritys_form() -> None:
    """The notice goes to the school in the directory, in the form its authority uses, by the next school day."""
    result = run(incident())
    (notice,) = [a for a in result.actions if a.workflow is Workflow.encompass]
    assert (RecipientKind.school, "Brookfield Primary School", "914201", "full") == (
        notice.recipient.kind,
        notice.recipient.name,
        notice.recipient.urn,
        notice.policy,
    )
    assert datetime(2026, 3, 16, 8, 30, tzinfo=UTC) == notice.deadline  # Friday night -> Monday 08:30 GMT


def test_home_educated_child_is_notified_to_the_authority() -> None:
    """An electively home-educated child's notice goes to the authority's education team."""
    result = run(incident(child={"school": None, "home_educated": True}))
    (notice,) = [a for a in result.actions if a.workflow is Workflow.encompass]
    assert (RecipientKind.local_authority_education, "Worcestershire Elective Home Education Team") == (
        notice.recipient.kind,
        notice.recipient.name,
    )


def test_no_school_goes_to_a_person() -> None:
    """A school-age child with no school recorded is a problem with a reason, not a guess."""
    result = run(incident(child={"school": None}))
    assert [("encompass", "N100003", "no_school")] == [(p.workflow.value, p.subject, p.code) for p in result.problems]
    assert "No school is recorded for child N100003 (age 9)" in result.problems[0].message


def test_unknown_school_goes_to_a_person() -> None:
    """A school name not in the directory is not sent anywhere."""
    result = run(incident(child={"school": "Nowhere Academy"}))
    assert ["unknown_school"] == [p.code for p in result.problems]


def test_unknown_postcode_goes_to_a_person() -> None:
    """A child living outside the four authorities cannot be routed: a BusinessError with the district."""
    address = {"line1": "1 Broad Street", "town": "Birmingham", "postcode": "B15 2TT"}
    result = run(incident(child={"address": address}))
    referral_problems = [p for p in result.problems if p.workflow is Workflow.referral]
    assert ["unknown_postcode"] == [p.code for p in referral_problems]
    assert "postcode district B15, outside the four West Mercia authorities" in referral_problems[0].message
    assert "Birmingham" not in referral_problems[0].message and "B15 2TT" not in referral_problems[0].message


def test_referral_goes_to_the_authority_of_the_childs_postcode() -> None:
    """The child's WR1 postcode routes the referral to Worcestershire's front door."""
    result = run(incident())
    (referral,) = [a for a in result.actions if a.workflow is Workflow.referral]
    assert ("children:worcestershire", "Worcestershire Children First (Family Front Door)", ("N100003",)) == (
        referral.subject,
        referral.recipient.name,
        referral.subject_refs,
    )


@pytest.mark.parametrize(("dob", "referred"), [("15/03/2010", False), ("13/03/2010", True)])
def test_marac_is_for_victims_aged_sixteen_or_over(dob: str, referred: bool) -> None:
    """A victim of 15 is not referred to MARAC even at high risk; at 16 they are."""
    result = run(incident(yes=14, victim={"date_of_birth": dob}))
    assert referred == any(a.workflow is Workflow.marac for a in result.actions)


def sightings(case: Incident, nominal: str, role: str, count: int, days_apart: int) -> History:
    person = next(p for p in case.people if p.nominal_ref == nominal)
    key = person_key(person, case)
    seen = [
        Sighting(f"OCC/26/00{900 + n}", case.occurred_at - timedelta(days=days_apart * (n + 1)), True, role)
        for n in range(count)
    ]
    return History(sightings={key: seen})


@pytest.mark.parametrize(("earlier", "days_apart", "repeat"), [(2, 100, True), (1, 100, False), (2, 190, False)])
def test_repeat_child_is_three_incidents_in_twelve_months(earlier: int, days_apart: int, repeat: bool) -> None:
    """Two earlier incidents within 365 days make this the third: a repeat child; fewer or older do not."""
    case = incident()
    result = run(case, sightings(case, "N100003", "child", earlier, days_apart))
    assert repeat == ("repeat_child" in result.flags)


def test_repeat_victim_triggers_marac() -> None:
    """A victim with two earlier domestic abuse incidents in the window is referred for potential escalation."""
    case = incident()
    result = run(case, sightings(case, "N100001", "victim", 2, 30))
    (marac,) = [a for a in result.actions if a.workflow is Workflow.marac]
    assert ("MARAC: potential escalation: 3 domestic abuse incidents in 365 days",) == marac.reasons


def test_a_new_incident_within_a_year_of_a_marac_referral_is_referred_again() -> None:
    """A victim referred to MARAC 200 days ago is referred again (repeat MARAC)."""
    case = incident()
    key = person_key(case.people[0], case)
    result = run(case, History(marac_referrals={key: [case.occurred_at - timedelta(days=200)]}))
    assert ["marac:N100001"] == [w for w in workflows(result) if w.startswith("marac")]


def test_no_children_and_no_marac_criteria_gives_a_reason() -> None:
    """An incident needing nothing says why."""
    raw = raw_incident(
        domestic_abuse=False, incident_type="Public order", dash=None, ppn=None, child_risk_assessments=[]
    )
    raw["people"] = raw["people"][:2]
    result = run(validate_incident(raw))
    assert ((), (), RiskLevel.blue) == (result.actions, result.problems, result.risk)
    assert "No children linked and not a domestic abuse incident: nothing to share." == result.no_action_reason


def test_missing_child_risk_assessment_is_listed() -> None:
    """A linked child without an assessment is flagged and named by nominal reference for follow-up."""
    result = run(incident(child_risk_assessments=[]))
    assert ("N100003",) == result.missing_cras
    assert "missing_cra" in result.flags
    assert "Worcestershire" == result.policing_area


def test_a_baby_and_reasons_are_ordered_by_weight() -> None:
    """A baby raises the score; reasons list the level first, then the heaviest indicators."""
    result = run(incident(child={"date_of_birth": "01/10/2025", "school": None}))
    assert "baby" in result.flags
    assert result.reasons[0].startswith(f"Risk {result.risk.value}: score {result.score}")
    assert "A baby under 18 months is linked: N100003 (5 months)" in result.reasons


def test_red_risk_is_high_priority_and_blue_is_low() -> None:
    """Priority follows risk (and a near deadline raises it)."""
    assert "high" == run(incident(yes=14)).priority.value


def test_a_child_with_only_an_age_is_matched_by_name_and_address() -> None:
    """Without a date of birth, the same name at the same address is the same child; elsewhere it is not."""
    case = incident(child={"date_of_birth": None, "age_years": 9})
    history = sightings(case, "N100003", "child", 2, 100)
    assert "repeat_child" in run(case, history).flags
    moved = incident(
        child={
            "date_of_birth": None,
            "age_years": 9,
            "address": {"line1": "3 Mill Lane", "town": "Worcester", "postcode": "WR2 4AA"},
        }
    )
    assert "repeat_child" not in run(moved, history).flags
