"""From what the records system's pages show (text) to the raw record that vhub.models validates.

Only the page's display conventions are undone here (Yes/No, blank cells, question numbers);
anything odd is passed on as it is, so validation names the field and a person can look.
"""

from __future__ import annotations

import re
from typing import Any

from vhub.models import DASH_KEYS

_YES_NO = {"yes": True, "no": False}


def _blank(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def _yes_no(value: str | None, *, blank: bool | None = None) -> bool | str | None:
    if value is None or not value.strip():
        return blank
    return _YES_NO.get(value.strip().lower(), value)


def _int(value: str | None) -> int | str | None:
    if value is None or not value.strip():
        return None
    return int(value) if value.strip().isdigit() else value


def _address(line1: str | None, town: str | None, postcode: str | None) -> dict[str, Any] | None:
    if not any(_blank(part) for part in (line1, town, postcode)):
        return None
    return {"line1": line1 or "", "town": town or "", "postcode": postcode or ""}


def _person(row: dict[str, str | None]) -> dict[str, Any]:
    return {
        "nominal_ref": row["nominal_ref"],
        "forename": row["forename"],
        "surname": row["surname"],
        "date_of_birth": _blank(row["date_of_birth"]),
        "age_years": _int(row["age_years"]),
        "gender": _blank(row["gender"]) or "unknown",
        "address": _address(row["address_line1"], row["address_town"], row["address_postcode"]),
        "role": row["role"],
        "relationship": _blank(row["relationship"]),
        "school": _blank(row["school"]),
        "home_educated": _yes_no(row["home_educated"], blank=False),
        "present": _yes_no(row["present"]),
        "voice_of_child": _blank(row["voice_of_child"]),
    }


_OWNER = re.compile(r"^(?P<action>.*?)\s*\(owner: (?P<owner>[^()]*)\)$")


def _lines(value: str | None) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _action(line: str) -> dict[str, Any]:
    """``Welfare visit (owner: Safer Neighbourhood Team)``; ``(owner: not recorded)`` is no owner."""
    match = _OWNER.match(line)
    if match is None:
        return {"action": line, "owner": None}
    owner = match["owner"].strip()
    return {"action": match["action"], "owner": None if owner.lower() in ("", "not recorded") else owner}


def _assessment(row: dict[str, str | None]) -> dict[str, Any]:
    """A child risk assessment block; the quality fields are absent from older pages (read as lacking)."""
    return {
        "nominal_ref": row["nominal_ref"],
        "level": row["level"],
        "completed_at": row["completed_at"],
        "summary": row["summary"] or "",
        "age_years": _int(row.get("age_years")),
        "voice_of_child": _blank(row.get("voice_of_child")),
        "risk_factors": _lines(row.get("risk_factors")),
        "actions": [_action(line) for line in _lines(row.get("actions"))],
        "area": _blank(row.get("area")),
        "team": _blank(row.get("team")),
    }


def _dash_answers(rows: list[dict[str, str | None]]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for row in rows:
        match = re.fullmatch(r"Q(\d+)", (row["number"] or "").strip())
        number = int(match.group(1)) if match else 0
        key = DASH_KEYS[number - 1] if 1 <= number <= len(DASH_KEYS) else f"question {row['number']}"
        answer = (row["answer"] or "").strip().lower()
        answers[key] = None if answer in ("", "not known") else _YES_NO.get(answer, row["answer"])
    return answers


def parse_incident(page: dict[str, Any]) -> dict[str, Any]:
    """``page`` is what bots.locators.extract read from the incident page."""
    values, groups = page["values"], page["groups"]
    dash = None
    if values.get("dash_grading") is not None:
        dash = {"answers": _dash_answers(groups["dash"]), "officer_grading": values["dash_grading"]}
    ppn = None
    if values.get("ppn_grade") is not None:
        ppn = {"grade": values["ppn_grade"], "raised_at": values.get("ppn_raised_at")}
    return {
        "reference": values["reference"],
        "system_id": _int(values["system_id"]),
        "last_modified": values["last_modified"],
        "incident_type": values["incident_type"],
        "domestic_abuse": _yes_no(values["domestic_abuse"]),
        "crime_classification": _blank(values["crime_classification"]),
        "occurred_at": values["occurred_at"],
        "location": _address(values["location_line1"], values["location_town"], values["location_postcode"]),
        "officer": values["officer"],
        "people": [_person(row) for row in groups["people"]],
        "dash": dash,
        "ppn": ppn,
        "child_risk_assessments": [_assessment(row) for row in groups["child_risk_assessments"]],
        "narrative": values["narrative"] or "",
    }


def personal_values(raw: dict[str, Any]) -> list[str]:
    """The values of a record that identify a person, for the log redactor to mask."""
    found: list[Any] = []
    for person in raw.get("people") or []:
        found += [person.get("forename"), person.get("surname"), person.get("date_of_birth")]
        found.append(f"{person.get('forename')} {person.get('surname')}")
        address = person.get("address") or {}
        found += [address.get("line1"), address.get("postcode")]
        found.append(person.get("school"))
    location = raw.get("location") or {}
    found += [location.get("line1"), location.get("postcode")]
    return [value for value in found if isinstance(value, str) and value.strip()]
