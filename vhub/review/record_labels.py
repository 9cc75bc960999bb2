"""Plain words for a record as read from a source: each field by its name, each person by role, name and nominal.

Data-quality reasons name fields by validation path (``people[0].date_of_birth: is not a real calendar date``);
people who fix them read "Date of birth of victim Jane Smith (N000123): is not a real calendar date".
"""

from __future__ import annotations

from typing import Any

from vhub.corrections import get_path, reason_paths, split_path

# Plain names of the record's fields, for people who never see its paths.
_FIELD_NAMES = {
    "nominal_ref": "Nominal reference",
    "forename": "Forename",
    "surname": "Surname",
    "date_of_birth": "Date of birth",
    "age_years": "Age in years",
    "line1": "First line of the address",
    "town": "Town",
    "postcode": "Postcode",
    "role": "Role in the incident",
    "relationship": "Relationship",
    "school": "School",
    "home_educated": "Home educated",
    "present": "Whether they were present",
    "voice_of_child": "What the child said",
    "reference": "Incident reference",
    "last_modified": "Last changed in the records system",
    "incident_type": "Incident type",
    "domestic_abuse": "Domestic abuse marker",
    "crime_classification": "Crime classification",
    "occurred_at": "When it happened",
    "officer": "Officer",
    "narrative": "Officer's narrative",
    "officer_grading": "Officer's grading",
    "grade": "Grade",
    "raised_at": "Raised at",
    "level": "Level",
    "completed_at": "Completed at",
    "summary": "Summary",
    "risk_factors": "Risk factors",
    "actions": "Actions",
    "action": "Action",
    "owner": "Who owns the action",
    "area": "Assessing officer's local policing area",
    "team": "Assessing officer's team",
    "due_date": "Due date",
    "requester": "Requester",
    "purpose": "Purpose",
    "lawful_basis": "Lawful basis",
}
_GROUPS = {
    "location": "the incident's location",
    "dash": "the DASH risk checklist",
    "ppn": "the Public Protection Notice",
    "address": "address",
}


def person_named(record: Any) -> str:
    """A person in the record as a reviewer knows them: role, name and nominal reference, as read (cut short)."""
    if not isinstance(record, dict):
        return ""
    name = " ".join(str(record.get(part) or "").strip()[:80] for part in ("forename", "surname")).strip()
    role = str(record.get("role") or "").strip()[:40]
    nominal = str(record.get("nominal_ref") or "").strip()[:20]
    who = " ".join(part for part in (role, name) if part) or "a person with no name recorded"
    return f"{who} ({nominal})" if nominal else who


def plain_label(path: str, raw: dict[str, Any]) -> str:
    """``people[0].address.postcode`` -> "Postcode (address) of victim Jane Smith (N000123)"."""
    parts = split_path(path)
    if not parts:
        return path
    field = next((part for part in reversed(parts) if isinstance(part, str)), str(parts[-1]))  # risk_factors[0]
    label = _FIELD_NAMES.get(field, field.replace("_", " ").capitalize())
    groups = [_GROUPS.get(str(part), str(part).replace("_", " ")) for part in parts[1:-1] if isinstance(part, str)]
    if parts[0] in ("people", "subjects") and len(parts) > 1 and isinstance(parts[1], int):
        person = get_path(raw, f"{parts[0]}[{parts[1]}]")
        noun = "subject" if parts[0] == "subjects" else "person"
        named = person_named(person)
        who = f"{noun} {named}" if named and noun == "subject" else named or f"{noun} {parts[1] + 1}"
        inner = f" ({', '.join(groups)})" if groups else ""
        return f"{label}{inner} of {who}"
    if parts[0] == "child_risk_assessments" and len(parts) > 1 and isinstance(parts[1], int):
        return f"{label} of child risk assessment {parts[1] + 1}"
    if isinstance(parts[0], str) and parts[0] in _GROUPS and len(parts) > 1:
        return f"{label} of {_GROUPS[parts[0]]}"
    return label


def plain_reason(reason: str, raw: dict[str, Any]) -> str:
    """A validation reason with its path in plain words; any other reason as it is."""
    path, sep, problem = reason.partition(": ")
    if not sep or path not in reason_paths([reason]):
        return reason
    return f"{plain_label(path, raw)}: {problem}"
