"""config/cra_audit.toml checked on load with errors that name the file and the setting; one child risk assessment
scored against the rubric: its weight met, and what it lacks in the reviewer's words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.factories import raw_incident
from vhub.cra_audit import CRA_AUDIT_FILE, CRITERIA, cra_rubric, load_rubric, score
from vhub.errors import ConfigurationError
from vhub.models import Incident, validate_incident

COMPLETE = {
    "age_years": 9,
    "voice_of_child": "I hid in my room.",
    "risk_factors": ["Domestic abuse in the household"],
    "actions": [{"action": "Refer to children's services", "owner": "VHub"}],
    "area": "Worcestershire",
    "team": "Response Team B",
}


def incident(**cra: Any) -> Incident:
    """The factory's incident, its one assessment (completed 2 h 20 min after the incident) with ``cra``'s fields."""
    raw = raw_incident()
    raw["child_risk_assessments"][0].update(cra)
    return validate_incident(raw)


def scored(**cra: Any) -> tuple[int, list[str]]:
    record = incident(**cra)
    result = score(record.child_risk_assessments[0], record, cra_rubric())
    return result.score, [lack.criterion for lack in result.lacking]


def shipped_with(tmp_path: Path, old: str, new: str) -> Path:
    text = CRA_AUDIT_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "cra_audit.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_shipped_rubric_gives_all_five_criteria_and_a_contact_per_area() -> None:
    """As shipped: five criteria weighing 100 in all, 24 hours to complete, a contact for each of the four areas."""
    rubric = cra_rubric()
    assert (100, 24) == (sum(c.weight for c in rubric.criteria.values()), rubric.completed_within_hours)
    assert set(CRITERIA) == set(rubric.criteria)
    assert "Herefordshire LPA CRA single point of contact" == rubric.contact("Herefordshire")
    assert rubric.default_contact == rubric.contact(None)


def test_a_complete_assessment_scores_100_and_lacks_nothing() -> None:
    """Age, voice, risk factors, owned actions, completed in time: 100, nothing lacking."""
    assert (100, []) == scored(**COMPLETE)


def test_an_assessment_recorded_before_the_audit_lacks_every_element_but_never_fails() -> None:
    """An assessment with only level, time and summary scores on its time alone (15 of 100) and lacks the rest."""
    assert (15, ["named_with_age", "voice_of_child", "risk_factors", "actions_owned"]) == scored()


@pytest.mark.parametrize(
    ("change", "lacking", "points"),
    [
        ({"age_years": None}, "named_with_age", 80),
        ({"voice_of_child": "  "}, "voice_of_child", 75),
        ({"risk_factors": []}, "risk_factors", 80),
        ({"actions": []}, "actions_owned", 80),
        ({"actions": [{"action": "Safety plan", "owner": "VHub"}, {"action": "Visit"}]}, "actions_owned", 80),
        ({"completed_at": "15/03/2026 00:00:00 GMT"}, "completed_on_time", 85),
    ],
)
def test_each_lacking_element_costs_its_weight(change: dict[str, Any], lacking: str, points: int) -> None:
    """Each element missing (an action without an owner, completed 25 h 20 min after) loses that criterion's weight."""
    assert (points, [lacking]) == scored(**{**COMPLETE, **change})


def test_what_it_lacks_is_in_the_reviewers_words_with_the_forces_hours() -> None:
    """The lack's text is the config's, "{hours}" replaced by the hours the force allows."""
    record = incident(**{**COMPLETE, "completed_at": "16/03/2026 00:00:00 GMT"})
    result = score(record.child_risk_assessments[0], record, cra_rubric())
    assert ["Not completed within 24 hours of the incident."] == [lack.lacks for lack in result.lacking]
    assert [{"criterion": "completed_on_time", "label": "Completed in time", "lacks": result.lacking[0].lacks}] == (
        result.as_json()
    )


def test_a_criterion_weighted_0_is_neither_scored_nor_listed(tmp_path: Path) -> None:
    """With the voice of the child weighted 0, an assessment lacking only it scores 100 and lacks nothing."""
    rubric = load_rubric(shipped_with(tmp_path, "weight = 25", "weight = 0"))
    record = incident(**{**COMPLETE, "voice_of_child": None})
    assert (100, ()) == (lambda r: (r.score, r.lacking))(score(record.child_risk_assessments[0], record, rubric))


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("completed_within_hours = 24", "completed_within_hours = 0", "completed_within_hours"),
        ("completed_within_hours = 24", 'completed_within_hours = "a day"', "completed_within_hours"),
        ("weight = 20", "weight = -5", "criteria.named_with_age.weight"),
        ("[criteria.risk_factors]", "[criteria.risk_factor]", "[criteria.risk_factors] is missing"),
        ('label = "Voice of the child"', 'label = ""', "criteria.voice_of_child.label"),
        ("lowest_per_area = 10", "lowest_per_area = 10\nlowest = 3", "lowest"),
    ],
)
def test_a_mistake_is_refused_with_the_file_and_the_setting(tmp_path: Path, old: str, new: str, named: str) -> None:
    """Each kind of mistake stops the load with a message naming the file and the setting to fix."""
    path = shipped_with(tmp_path, old, new)
    with pytest.raises(ConfigurationError) as caught:
        load_rubric(path)
    assert str(path) in str(caught.value) and named in str(caught.value)


def test_a_contact_for_an_area_not_in_the_authorities_is_refused(tmp_path: Path) -> None:
    """A misspelt area in [contacts] is refused, naming the areas config/authorities.toml knows."""
    path = shipped_with(tmp_path, '"Shropshire" =', '"Shrops" =')
    with pytest.raises(ConfigurationError, match="Shrops, not a policing_area of config/authorities.toml"):
        load_rubric(path, areas=("Herefordshire", "Shropshire", "Telford & Wrekin", "Worcestershire"))


def test_weights_of_nothing_are_refused(tmp_path: Path) -> None:
    """All five weighted 0 would score nothing: refused."""
    text = CRA_AUDIT_FILE.read_text(encoding="utf-8")
    for weight in ("20", "25", "15"):
        text = text.replace(f"weight = {weight}", "weight = 0")
    path = tmp_path / "cra_audit.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="add up to 0"):
        load_rubric(path)
