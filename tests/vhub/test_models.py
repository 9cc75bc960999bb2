"""The domain model: parsing what the records system prints, and validation a person can act on."""

from __future__ import annotations

import sys
import unicodedata
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from tests.factories import raw_incident, raw_isr_request
from vhub.corrections import set_path
from vhub.errors import InvalidRecord
from vhub.isr import IsrRequest
from vhub.models import (
    LONG_TEXT_MAX,
    Role,
    _long_text,
    describe_validation_error,
    normalise_postcode,
    one_line,
    parse_uk_date,
    parse_uk_datetime,
    validate_incident,
)
from vhub.store.tables import ChildRiskAssessmentRow, IncidentPersonRow, IncidentRow


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


def reasons_of(raw: dict) -> list[str]:
    with pytest.raises(InvalidRecord) as caught:
        validate_incident(raw)
    return caught.value.reasons


def test_a_megabyte_name_is_refused_with_the_field_named() -> None:
    """A 1 MB forename is invalid, and the reason names the field and its limit in one short line."""
    raw = raw_incident()
    raw["people"][1]["forename"] = "Brandon" * 150_000
    with pytest.raises(InvalidRecord) as caught:
        validate_incident(raw)
    assert ["people[1].forename: is longer than 80 characters, the most VHub keeps"] == caught.value.reasons
    assert len(str(caught.value)) < 200


# Each text field of an incident and the column that stores it: the limit must fit the column.
STORED_IN = [
    ("incident_type", IncidentRow.incident_type),
    ("crime_classification", IncidentRow.crime_classification),
    ("officer", IncidentRow.officer),
    ("location.line1", IncidentRow.location_line1),
    ("location.town", IncidentRow.location_town),
    ("people[2].forename", IncidentPersonRow.forename),
    ("people[2].surname", IncidentPersonRow.surname),
    ("people[2].relationship", IncidentPersonRow.relationship_to),
    ("people[2].school", IncidentPersonRow.school),
    ("people[2].address.line1", IncidentPersonRow.address_line1),
    ("people[2].address.town", IncidentPersonRow.address_town),
    ("people[2].voice_of_child", IncidentPersonRow.voice_of_child),
    ("child_risk_assessments[0].summary", ChildRiskAssessmentRow.summary),
    ("narrative", IncidentRow.narrative),
]


@pytest.mark.parametrize(("path", "column"), STORED_IN, ids=[path for path, _ in STORED_IN])
def test_every_text_field_is_limited_to_what_its_column_holds(path: str, column: Any) -> None:
    """A value one character longer than the column (or than the longest text kept, for text columns) is refused
    with the field named; a value that fills it is accepted."""
    most = getattr(column.type, "length", None) or LONG_TEXT_MAX
    raw = raw_incident()
    set_path(raw, path, "x" * most)
    validate_incident(raw)
    set_path(raw, path, "x" * (most + 1))
    assert [f"{path}: is longer than {most} characters, the most VHub keeps"] == reasons_of(raw)


@pytest.mark.parametrize("path", ["people[0].forename", "location.town", "officer", "narrative"])
def test_a_control_character_makes_the_field_invalid(path: str) -> None:
    """A NUL byte (or an escape) is not quietly dropped: the field is invalid and the reason says why."""
    raw = raw_incident()
    set_path(raw, path, "Wor\x00cester")
    expected = f"{path}: contains a hidden control character (such as a NUL byte): retype it where it was recorded"
    assert [expected] == reasons_of(raw)
    set_path(raw, path, "Wor\x1bcester")
    assert [expected] == reasons_of(raw)


def test_long_text_keeps_its_line_breaks_and_tabs_but_a_name_does_not() -> None:
    """Line breaks and tabs are layout in a narrative; inside a name they are a slip."""
    raw = raw_incident(narrative="Officers attended.\r\n\tThe neighbour called.\nNo injuries.")
    assert "Officers attended.\r\n\tThe neighbour called.\nNo injuries." == validate_incident(raw).narrative
    raw["people"][2]["forename"] = "Ca\tsey"
    assert [
        "people[2].forename: contains a hidden control character (such as a NUL byte): retype it where it was recorded"
    ] == reasons_of(raw)


@pytest.mark.parametrize(
    ("date_of_birth", "reason"),
    [
        ("31/12/1899", "is before 1900: check the year of birth"),
        ("12/03/1906", "is more than 120 years before the incident: check the year of birth"),
        ("14/03/2026", "is after the incident date"),
    ],
)
def test_an_implausible_date_of_birth_is_refused(date_of_birth: str, reason: str) -> None:
    """A child born in 1899, someone over 120 at the incident, or born after it: each is a slip a person checks."""
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = date_of_birth
    assert [f"people[2].date_of_birth: {reason}"] == reasons_of(raw)


def test_the_oldest_plausible_date_of_birth_is_accepted() -> None:
    """Someone exactly 120 on the day of the incident is accepted."""
    raw = raw_incident()
    raw["people"][0]["date_of_birth"] = "13/03/1906"
    assert date(1906, 3, 13) == validate_incident(raw).people[0].date_of_birth


def test_an_unexpected_field_with_a_huge_name_gives_a_short_reason() -> None:
    """A field the record should not have is named, shortened: the reason stays readable."""
    raw = raw_incident(**{"x" * 100_000: "value"})
    assert [f"{'x' * 39}…: is not a field the record should have"] == reasons_of(raw)


def test_an_isr_request_has_the_same_limits_and_plausibility() -> None:
    """A request's names, labels and dates of birth are checked like an incident's, named by field."""
    raw = raw_isr_request()
    raw["subjects"][0]["forename"] = "A" * 81
    raw["purpose"] = "Section 47\x00 enquiry"
    raw["notes"] = "n" * (LONG_TEXT_MAX + 1)
    with pytest.raises(ValidationError) as caught:
        IsrRequest.model_validate(raw)
    assert [
        "purpose: contains a hidden control character (such as a NUL byte): retype it where it was recorded",
        "subjects[0].forename: is longer than 80 characters, the most VHub keeps",
        f"notes: is longer than {LONG_TEXT_MAX} characters, the most VHub keeps",
    ] == describe_validation_error(caught.value)
    raw = raw_isr_request()
    raw["subjects"][0]["date_of_birth"] = "17/03/2026"
    with pytest.raises(ValidationError) as caught:
        IsrRequest.model_validate(raw)
    assert ["subjects[0].date_of_birth: is after the request date"] == describe_validation_error(caught.value)


def test_the_control_character_check_is_unicodes_cc_and_cs_for_every_code_point() -> None:
    """Short text refuses exactly the characters of Unicode's Cc and Cs categories; long text the same less line
    breaks and tabs: checked for every code point, so the fast character class cannot drift from the rule."""
    refused_short, refused_long = [], []
    for code_point in range(sys.maxunicode + 1):
        char = chr(code_point)
        for check, refused in ((one_line, refused_short), (_long_text, refused_long)):
            try:
                check(char)
            except ValueError:
                refused.append(char)
    control = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cc", "Cs")]
    assert (control, [c for c in control if c not in "\n\r\t"]) == (refused_short, refused_long)
