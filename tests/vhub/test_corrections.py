"""Corrections by field path: the same paths as validation reasons, in raw records and stored incidents."""

from __future__ import annotations

import pytest

from tests.factories import raw_incident
from vhub.corrections import apply_to_incident, corrected, get_path, reason_paths, require_values, set_path
from vhub.errors import InvalidRecord
from vhub.models import validate_incident


def test_paths_read_and_write_nested_values() -> None:
    """``people[2].address.postcode`` reaches into lists and objects, creating what is missing."""
    raw = raw_incident()
    assert "Casey" == get_path(raw, "people[2].forename")
    set_path(raw, "people[1].address.postcode", "WR1 2AB")
    assert {"postcode": "WR1 2AB"} == raw["people"][1]["address"]
    assert None is get_path(raw, "people[9].forename")


def test_reason_paths_are_the_fields_named_by_validation() -> None:
    """Reasons that start with a field path give that path; free-text reasons give none."""
    reasons = [
        "people[2].date_of_birth: is not a real calendar date",
        "location.postcode: is not a UK postcode",
        "The records system no longer shows incident id 9: check it",
    ]
    assert ["people[2].date_of_birth", "location.postcode"] == reason_paths(reasons)


def test_a_corrected_raw_record_validates() -> None:
    """Fixing the field a reason names makes the record valid, and leaves the original untouched."""
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = "31/02/2016"
    with pytest.raises(InvalidRecord):
        validate_incident(raw)
    fixed = corrected(raw, {"people[2].date_of_birth": "2016-02-29"})
    assert "2016-02-29" == str(validate_incident(fixed).people[2].date_of_birth)
    assert "31/02/2016" == raw["people"][2]["date_of_birth"]


def test_corrections_apply_to_a_stored_incident() -> None:
    """A school supplied by a person is applied on top of the incident as stored."""
    raw = raw_incident()
    raw["people"][2]["school"] = None
    incident = validate_incident(raw)
    assert (
        "Brookfield Primary School"
        == apply_to_incident(incident, {"people[2].school": "Brookfield Primary School"}).people[2].school
    )
    assert incident is apply_to_incident(incident, {})


def test_a_correction_that_leaves_a_field_blank_is_refused_with_the_field_named() -> None:
    """A blank (or only spaces) is no correction: each blank field is named; filled values are kept, trimmed."""
    with pytest.raises(InvalidRecord) as caught:
        require_values({"people[2].date_of_birth": "  ", "people[2].school": "Brookfield Primary School"})
    assert [
        "people[2].date_of_birth: is blank: type the corrected value, or resolve the item by hand with a note"
    ] == caught.value.reasons
    assert {"people[2].date_of_birth": "2016-02-29"} == require_values({"people[2].date_of_birth": " 2016-02-29 "})


def test_a_corrected_date_of_birth_must_be_plausible() -> None:
    """A child's date of birth corrected to 1899 is refused like one read from the records system."""
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = "31/02/2016"
    with pytest.raises(InvalidRecord) as caught:
        validate_incident(corrected(raw, require_values({"people[2].date_of_birth": "1899-12-31"})))
    assert ["people[2].date_of_birth: is before 1900: check the year of birth"] == caught.value.reasons
