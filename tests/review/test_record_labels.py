"""Plain words for the fields and people of a record a person must fix."""

from __future__ import annotations

from tests.factories import raw_incident
from vhub.review.record_labels import plain_label, plain_reason

RAW = raw_incident()


def test_fields_of_people_name_the_person_by_role_name_and_nominal() -> None:
    """A person's field says whose it is; a nested one says where in the person's record it is."""
    assert [
        "Date of birth of victim Alexandra Testperson (N100001)",
        "Postcode (address) of child Casey Testperson (N100003)",
        "Date of birth of subject 1",
    ] == [
        plain_label("people[0].date_of_birth", RAW),
        plain_label("people[2].address.postcode", RAW),
        plain_label("subjects[0].date_of_birth", {"subjects": ["not a record"]}),
    ]


def test_fields_of_the_incident_are_named_in_plain_words() -> None:
    """The incident's own fields and groups, and a field with no plain name, read as words, not paths."""
    assert ["When it happened", "Postcode of the incident's location", "Grade of the Public Protection Notice"] == [
        plain_label("occurred_at", RAW),
        plain_label("location.postcode", RAW),
        plain_label("ppn.grade", RAW),
    ]
    assert "Some new field" == plain_label("some_new_field", RAW)


def test_the_audit_fields_of_a_child_risk_assessment_are_named_in_plain_words() -> None:
    """An assessment's team, risk factor and action owner name the field and the assessment, not a path."""
    assert [
        "Assessing officer's team of child risk assessment 1",
        "Risk factors of child risk assessment 2",
        "Who owns the action of child risk assessment 1",
    ] == [
        plain_label("child_risk_assessments[0].team", RAW),
        plain_label("child_risk_assessments[1].risk_factors[0]", RAW),
        plain_label("child_risk_assessments[0].actions[1].owner", RAW),
    ]


def test_a_reason_keeps_its_words_and_loses_its_path() -> None:
    """A validation reason's path becomes the plain label; a reason naming no field is left as it is."""
    assert (
        "Date of birth of child Casey Testperson (N100003): is not a real calendar date",
        "The records system no longer shows incident id 101.",
    ) == (
        plain_reason("people[2].date_of_birth: is not a real calendar date", RAW),
        plain_reason("The records system no longer shows incident id 101.", RAW),
    )
