"""People of every age: age on the day of the incident decides who is a child, whatever their role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories import raw_incident
from vhub.models import DASH_KEYS, Incident, validate_incident
from vhub.triage import History, RiskLevel, TriageConfig, Workflow, load_config, person_key, triage
from vhub.triage.history import Sighting
from vhub.triage.model import TriageResult

CONFIG = load_config()
NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
VICTIM, SUSPECT, CHILD = 0, 1, 2  # the factory incident's people: a victim of 34, her ex-partner of 38, a girl of 9
ELSEWHERE = {"line1": "1 Broad Street", "town": "Birmingham", "postcode": "B15 2TT"}


def case(*, without_child: bool = False, yes: int = 0, grading: str = "medium", **people: dict[str, Any]) -> Incident:
    """The factory's domestic abuse incident (13/03/2026), its DASH and people changed (victim, suspect, child)."""
    raw = raw_incident()
    raw["dash"] = {"answers": {key: index < yes for index, key in enumerate(DASH_KEYS)}, "officer_grading": grading}
    for name, changes in people.items():
        raw["people"][{"victim": VICTIM, "suspect": SUSPECT, "child": CHILD}[name]].update(changes)
    if without_child:
        raw["people"] = raw["people"][:CHILD]
        raw["child_risk_assessments"] = []
    return validate_incident(raw)


def run(incident: Incident, config: TriageConfig = CONFIG, history: History | None = None) -> TriageResult:
    return triage(incident, history or History(), config, now=NOW)


def of(result: TriageResult, workflow: Workflow) -> list[tuple[str, ...]]:
    return [action.subject_refs for action in result.actions if action.workflow is workflow]


def everything_said(result: TriageResult) -> str:
    texts = [*result.reasons, result.no_action_reason or ""]
    texts += [reason for action in result.actions for reason in action.reasons]
    return "\n".join(texts + [problem.message for problem in result.problems])


def test_a_child_victim_of_domestic_abuse_goes_to_childrens_services_not_marac() -> None:
    """A victim of 15, DASH graded high: no MARAC (16 or over), a referral and an Encompass step as a child victim."""
    result = run(case(without_child=True, yes=5, grading="high", victim={"date_of_birth": "01/06/2010"}))
    assert [("N100001",)] == of(result, Workflow.referral)
    assert [] == of(result, Workflow.marac)
    (referral,) = [a for a in result.actions if a.workflow is Workflow.referral]
    assert "N100001 (child victim, age 15)" in referral.reasons[0]
    # No school is recorded for her, so the Encompass step goes to a person instead of nowhere.
    assert [("encompass", "N100001", "no_school")] == [(p.workflow.value, p.subject, p.code) for p in result.problems]
    assert "child victim N100001 (age 15)" in result.problems[0].message
    assert any("MARAC is for victims aged 16 or over" in reason for reason in result.reasons)
    assert "adult victim" not in everything_said(result)


@pytest.mark.parametrize("role", ["suspect", "witness", "household member"])
def test_a_child_in_any_role_is_referred_as_a_child(role: str) -> None:
    """A 15-year-old suspect, witness or household member is a child on the referral, named so in its reasons."""
    result = run(case(suspect={"age_years": 15, "role": role}))
    (referral,) = [a for a in result.actions if a.workflow is Workflow.referral]
    assert ("N100002", "N100003") == referral.subject_refs
    assert f"N100002 (child {role}, age 15)" in referral.reasons[0]
    assert "N100003 (child, age 9)" in referral.reasons[0]


def test_a_victim_of_sixteen_is_a_marac_case_and_a_child() -> None:
    """At 16 the victim meets MARAC's age and is still a child: both the MARAC and the children's referral."""
    result = run(case(yes=14, victim={"date_of_birth": "01/01/2010"}))
    assert [("N100001",)] == of(result, Workflow.marac)
    assert [("N100001", "N100003")] == of(result, Workflow.referral)


def test_someone_recorded_as_a_child_but_aged_eighteen_is_an_adult() -> None:
    """A "child" of 18 on the day is not on the referral, gets no Encompass notice and no missing assessment."""
    raw = raw_incident(child_risk_assessments=[])
    raw["people"].append(
        {**raw["people"][CHILD], "nominal_ref": "N100004", "forename": "Robin", "date_of_birth": "13/03/2008"}
    )
    result = run(validate_incident(raw))
    assert [("N100003",)] == of(result, Workflow.referral)
    assert [("N100003",)] == of(result, Workflow.encompass)
    assert ("N100003",) == result.missing_cras


@pytest.mark.parametrize(
    ("occurred_at", "child"),
    [("13/06/2026 23:30:00 BST", True), ("14/06/2026 00:30:00 BST", False)],
)
def test_age_is_taken_on_the_uk_day_of_the_incident(occurred_at: str, child: bool) -> None:
    """Born 14/06/2008: at 23:30 UK time the night before the 18th birthday a child; at 00:30 on it (23:30 UTC the
    day before) an adult."""
    raw = raw_incident(occurred_at=occurred_at, last_modified="15/06/2026 09:00:00 BST", child_risk_assessments=[])
    raw["people"][CHILD]["date_of_birth"] = "14/06/2008"
    result = run(validate_incident(raw))
    assert child == bool(of(result, Workflow.referral))


def test_someone_with_no_age_goes_to_a_person() -> None:
    """Neither a date of birth nor an age: whether they are a child is asked of a person, never guessed."""
    result = run(case(child={"date_of_birth": None, "age_years": None}, suspect={"age_years": None}))
    assert [] == of(result, Workflow.referral)
    assert [("N100002", "age_unknown"), ("N100003", "age_unknown")] == sorted(
        (p.subject, p.code) for p in result.problems
    )
    assert (
        "Suspect N100002 has neither a date of birth nor an age, so triage cannot tell whether they are a child "
        "(under 18): record one, then triage again."
    ) in [p.message for p in result.problems]


def test_a_victim_with_no_age_is_asked_about_marac_too() -> None:
    """A victim meeting the MARAC criteria with no recorded age is not referred; a person is asked, MARAC named."""
    result = run(case(yes=14, victim={"date_of_birth": None}))
    assert [] == of(result, Workflow.marac)
    (problem,) = [p for p in result.problems if p.subject == "N100001"]
    assert "or old enough for MARAC (16 or over)" in problem.message


@pytest.mark.parametrize(
    ("dash_grading", "ppn", "ground"),
    [
        ("high", "medium", "the officer graded the DASH high with 5 yes answers (fewer than the 14 of visible high"),
        ("medium", "high", "the officer graded the PPN high"),
    ],
)
def test_professional_judgement_proposes_marac_for_a_person_to_confirm(
    dash_grading: str, ppn: str, ground: str
) -> None:
    """An officer's high DASH grading or high PPN with fewer than 14 yes answers proposes MARAC, to be confirmed."""
    raw = raw_incident()
    raw["dash"] = {"answers": {key: index < 5 for index, key in enumerate(DASH_KEYS)}, "officer_grading": dash_grading}
    raw["ppn"]["grade"] = ppn
    result = run(validate_incident(raw))
    assert [] == list(result.problems)
    (marac,) = [a for a in result.actions if a.workflow is Workflow.marac]
    (reason,) = marac.reasons
    assert reason.startswith("MARAC: professional judgement: ")
    assert ground in reason
    assert "the reviewer must confirm it" in reason


def test_no_high_grading_and_few_yes_answers_is_no_marac() -> None:
    """Graded medium, PPN medium, 5 yes answers: no MARAC criterion, so no MARAC referral."""
    assert [] == of(run(case(yes=5)), Workflow.marac)


@pytest.mark.parametrize(
    ("born", "age_years", "baby"),
    [
        ("01/02/2025", None, True),  # 13 months: aged 1, under 18 months
        ("14/09/2024", None, True),  # 17 months
        ("13/09/2024", None, False),  # 18 months to the day
        (None, 0, True),  # under 1 year, however many months
    ],
)
def test_a_baby_is_under_eighteen_months(born: str | None, age_years: int | None, baby: bool) -> None:
    """The DASH indicator is a baby under 18 months, counted in months on the day of the incident."""
    result = run(case(child={"date_of_birth": born, "age_years": age_years, "school": None}))
    assert baby == ("baby" in result.flags)


def test_an_age_of_one_without_a_date_of_birth_is_said_not_weighed() -> None:
    """Aged 1 with no date of birth may be 12 to 23 months: no weight, and a reason asking for the date of birth."""
    result = run(case(child={"date_of_birth": None, "age_years": 1, "school": None}))
    assert "baby" not in result.flags
    assert (
        "Possibly a baby under 18 months: N100003 (12 to 23 months, no date of birth); record the date of birth to tell"
        in result.reasons
    )


def test_a_child_out_of_area_at_blue_risk_reaches_a_person() -> None:
    """Blue risk is not shared, but a child living outside the four authorities may need a transfer: a person
    decides."""
    raw = raw_incident(
        incident_type="Public order", domestic_abuse=False, crime_classification=None, dash=None, ppn=None
    )
    raw["people"][CHILD]["address"] = ELSEWHERE
    result = run(validate_incident(raw))
    assert RiskLevel.blue == result.risk
    assert [] == list(result.actions)
    (problem,) = result.problems
    assert ("referral", "child:N100003", "unknown_postcode") == (problem.workflow.value, problem.subject, problem.code)
    assert "postcode district B15, outside the four West Mercia authorities (risk blue)" in problem.message
    assert "transfer" in problem.message


def with_policy(**sections: dict[str, Any]) -> TriageConfig:
    """The shipped configuration with some of config/triage.toml's values changed."""
    policy = CONFIG.policy
    changed = {name: getattr(policy, name).model_copy(update=values) for name, values in sections.items()}
    return CONFIG.model_copy(update={"policy": policy.model_copy(update=changed)})


def test_the_marac_window_in_reasons_is_the_configured_one() -> None:
    """With a 180-day window, the escalation reason says 180 days, not 12 months."""
    incident = case()
    key = person_key(incident.people[VICTIM], incident)
    earlier = [
        Sighting(f"OCC/26/00090{n}", datetime.fromisoformat(f"2026-0{n}-01T12:00:00+00:00"), True, "victim")
        for n in (1, 2)
    ]
    config = with_policy(workflows={"marac_repeat_window_days": 180})
    result = run(incident, config, History(sightings={key: earlier}))
    (marac,) = [a for a in result.actions if a.workflow is Workflow.marac]
    assert ("MARAC: potential escalation: 3 domestic abuse incidents in 180 days",) == marac.reasons


def test_who_is_a_child_and_what_is_a_baby_are_configured() -> None:
    """Children under 9 (configured): the girl of 9 is not referred; under 10: Encompass covers 4 to 9. Babies
    under 6 months: one of 7 months is not an indicator."""
    assert [] == of(run(case(), with_policy(ages={"child_under": 9})), Workflow.referral)
    (notice,) = [
        a for a in run(case(), with_policy(ages={"child_under": 10})).actions if a.workflow is Workflow.encompass
    ]
    assert "Operation Encompass covers 4 to 9" in notice.reasons[0]
    baby = case(child={"date_of_birth": "01/08/2025", "school": None})  # 7 months
    assert "baby" in run(baby).flags
    assert "baby" not in run(baby, with_policy(ages={"baby_under_months": 6})).flags
