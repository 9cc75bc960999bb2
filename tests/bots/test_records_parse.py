"""From the records system's page text to the raw record the model validates."""

from __future__ import annotations

from bots.records_system.parse import parse_incident, personal_values
from vhub.models import DASH_KEYS

PERSON = {
    "nominal_ref": "N100003",
    "forename": "Casey",
    "surname": "Testperson",
    "date_of_birth": "",
    "age_years": "9",
    "gender": "",
    "address_line1": "",
    "address_town": "",
    "address_postcode": "",
    "role": "child",
    "relationship": "",
    "school": "",
    "home_educated": "Yes",
    "present": "",
    "voice_of_child": "",
}
VALUES = {
    "reference": "OCC/26/000101",
    "system_id": "101",
    "last_modified": "14/03/2026 09:15:00 GMT",
    "incident_type": "Domestic abuse",
    "domestic_abuse": "Yes",
    "crime_classification": "",
    "occurred_at": "13/03/2026 22:40:00 GMT",
    "officer": "PC 4821",
    "location_line1": "12 Orchard Way",
    "location_town": "Worcester",
    "location_postcode": "WR1 2AB",
    "dash_grading": "high",
    "ppn_grade": None,
    "ppn_raised_at": None,
    "narrative": "Text",
}


def test_display_conventions_are_undone() -> None:
    """Yes/No become booleans, blank cells None, an age a number, a blank address no address."""
    raw = parse_incident({"values": VALUES, "groups": {"people": [PERSON], "dash": [], "child_risk_assessments": []}})
    person = raw["people"][0]
    assert (True, None, 101, None) == (raw["domestic_abuse"], raw["crime_classification"], raw["system_id"], raw["ppn"])
    assert (9, None, None, True, None, "unknown") == (
        person["age_years"],
        person["date_of_birth"],
        person["address"],
        person["home_educated"],
        person["present"],
        person["gender"],
    )


def test_dash_rows_map_to_question_keys() -> None:
    """Q1..Q27 map to the checklist's keys; Not known is None; an unknown number is kept to be refused."""
    rows = [
        {"number": "Q1", "answer": "Yes"},
        {"number": "Q27", "answer": "Not known"},
        {"number": "Q30", "answer": "No"},
    ]
    raw = parse_incident({"values": VALUES, "groups": {"people": [], "dash": rows, "child_risk_assessments": []}})
    assert {DASH_KEYS[0]: True, DASH_KEYS[26]: None, "question Q30": False} == raw["dash"]["answers"]


def test_odd_values_are_passed_on_for_validation_to_name() -> None:
    """A value the page should not show (an age in words) is not guessed at."""
    raw = parse_incident(
        {
            "values": VALUES,
            "groups": {"people": [{**PERSON, "age_years": "nine"}], "dash": [], "child_risk_assessments": []},
        }
    )
    assert "nine" == raw["people"][0]["age_years"]


def test_personal_values_cover_names_addresses_and_dates() -> None:
    """What the redactor is told to mask includes each name, the full name and the locations."""
    raw = parse_incident({"values": VALUES, "groups": {"people": [PERSON], "dash": [], "child_risk_assessments": []}})
    assert {"Casey", "Testperson", "Casey Testperson", "12 Orchard Way", "WR1 2AB"} <= set(personal_values(raw))
