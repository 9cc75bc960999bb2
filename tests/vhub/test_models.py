"""The domain model: parsing what the records system prints, and validation a person can act on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.factories import raw_incident
from vhub.errors import InvalidRecord
from vhub.models import Role, normalise_postcode, parse_uk_date, parse_uk_datetime, validate_incident


def test_valid_record_becomes_an_incident() -> None:
    """A well-formed record validates, with dates parsed and roles typed."""
    incident = validate_incident(raw_incident())
    assert datetime(2026, 3, 13, 22, 40, tzinfo=UTC) == incident.occurred_at
    assert date(2016, 9, 20) == incident.children[0].date_of_birth
    assert Role.suspect == incident.people[1].role
    assert 0 == incident.dash.yes_count


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("29/06/2026 10:00:00 BST", datetime(2026, 6, 29, 9, 0, tzinfo=UTC)),
        ("29/12/2026 10:00:00 GMT", datetime(2026, 12, 29, 10, 0, tzinfo=UTC)),
        ("25/10/2026 01:30:00 BST", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("25/10/2026 01:30:00 GMT", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
        ("29/06/2026 10:00", datetime(2026, 6, 29, 9, 0, tzinfo=UTC)),
    ],
)
def test_uk_times_become_utc(text: str, expected: datetime) -> None:
    """Local times with or without GMT/BST, including the repeated hour in October, map to UTC."""
    assert expected == parse_uk_datetime(text)


def test_impossible_date_is_named_without_its_value() -> None:
    """31 February is refused, and the message does not repeat the date (it may be a date of birth)."""
    with pytest.raises(ValueError, match="not a real calendar date") as caught:
        parse_uk_date("31/02/2014")
    assert "2014" not in str(caught.value)


def test_postcodes_are_normalised() -> None:
    """Postcodes are upper-cased with one space before the inward code."""
    assert "HR4 9ZZ" == normalise_postcode(" hr49zz ")


def test_invalid_record_lists_each_field_without_personal_values() -> None:
    """Reasons name the field path and what is wrong, never the value that was wrong."""
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = "31/02/2016"
    raw["location"] = {"line1": "12 Orchard Way", "town": "Worcester", "postcode": "WR1 XYZ"}
    with pytest.raises(InvalidRecord) as caught:
        validate_incident(raw)
    reasons = caught.value.reasons
    assert [
        "location.postcode: is not a UK postcode (for example WR1 2AB)",
        "people[2].date_of_birth: is not a real calendar date",
    ] == sorted(reasons)
    assert "OCC/26/000101" in caught.value.message
    for value in ("31/02/2016", "WR1 XYZ", "Casey", "Testperson"):
        assert value not in str(caught.value)


def test_date_of_birth_after_incident_is_refused() -> None:
    """A child cannot be born after the incident they are linked to."""
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = "01/01/2027"
    with pytest.raises(InvalidRecord) as caught:
        validate_incident(raw)
    assert ["people[2].date_of_birth: is after the incident date"] == caught.value.reasons


def test_missing_occurrence_time_is_refused() -> None:
    """An incident without a date and time cannot be triaged; the reason says which field."""
    with pytest.raises(InvalidRecord) as caught:
        validate_incident(raw_incident(occurred_at=""))
    assert ["occurred_at: is missing or is not a date and time (DD/MM/YYYY HH:MM)"] == caught.value.reasons


def test_assessment_for_unlinked_child_is_refused() -> None:
    """A child risk assessment must belong to a person linked to the incident."""
    raw = raw_incident()
    raw["child_risk_assessments"][0]["nominal_ref"] = "N999999"
    with pytest.raises(InvalidRecord) as caught:
        validate_incident(raw)
    assert ["child_risk_assessments[0]: is for a person not linked to the incident"] == caught.value.reasons


def test_enum_reasons_list_the_allowed_values() -> None:
    """A role the model does not know is named with the roles it does."""
    raw = raw_incident()
    raw["people"][0]["role"] = "bystander"
    with pytest.raises(InvalidRecord) as caught:
        validate_incident(raw)
    assert ["people[0].role: is not one of 'victim', 'suspect', 'child', 'witness' or 'household member'"] == (
        caught.value.reasons
    )


def test_unknown_dash_question_is_refused() -> None:
    """DASH answers must be to the 27 known questions."""
    raw = raw_incident()
    raw["dash"]["answers"]["made_up"] = True
    with pytest.raises(InvalidRecord, match="unknown DASH questions: made_up"):
        validate_incident(raw)


def test_age_is_worked_out_from_date_of_birth_or_recorded_age() -> None:
    """A person's age on a day comes from their date of birth, else from the recorded age."""
    incident = validate_incident(raw_incident())
    assert 9 == incident.people[2].age_on(date(2026, 3, 13))
    assert 38 == incident.people[1].age_on(date(2026, 3, 13))


def test_a_stored_incident_validates_again_from_its_json() -> None:
    """The JSON form (ISO dates) of a model validates back to the same model."""
    incident = validate_incident(raw_incident())
    assert incident == validate_incident(incident.model_dump(mode="json"))
