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


def test_an_assessments_lists_are_read_line_by_line_and_an_older_page_lacks_them() -> None:
    """Risk factors one a line; each action "text (owner: X)", "(owner: not recorded)" being none; a page without
    the audit's cells reads as an assessment lacking them."""
    row = {"nominal_ref": "N100003", "level": "high", "completed_at": "14/03/2026 01:00:00 GMT", "summary": "Seen."}
    audited = {
        **row,
        "age_years": "9",
        "voice_of_child": "I hid.",
        "risk_factors": "Domestic abuse in the household\n\nChild injured\n",
        "actions": "Refer to children's services (owner: VHub)\nWelfare visit (owner: not recorded)\nSafety plan",
        "area": "Shropshire",
        "team": "",
    }
    groups = {"people": [PERSON], "dash": [], "child_risk_assessments": [audited, row]}
    new, old = parse_incident({"values": VALUES, "groups": groups})["child_risk_assessments"]
    assert (9, "I hid.", ["Domestic abuse in the household", "Child injured"], "Shropshire", None) == (
        new["age_years"],
        new["voice_of_child"],
        new["risk_factors"],
        new["area"],
        new["team"],
    )
    assert [
        {"action": "Refer to children's services", "owner": "VHub"},
        {"action": "Welfare visit", "owner": None},
        {"action": "Safety plan", "owner": None},
    ] == new["actions"]
    assert (None, None, [], [], None, None) == tuple(
        old[key] for key in ("age_years", "voice_of_child", "risk_factors", "actions", "area", "team")
    )
