"""Hand-built records for unit tests: one valid incident as the records system displays it, one ISR request."""

from __future__ import annotations

import copy
from typing import Any

from vhub.models import DASH_KEYS

_BASE: dict[str, Any] = {
    "reference": "OCC/26/000101",
    "system_id": 101,
    "last_modified": "14/03/2026 09:15:00 GMT",
    "incident_type": "Domestic abuse",
    "domestic_abuse": True,
    "crime_classification": "Common assault",
    "occurred_at": "13/03/2026 22:40:00 GMT",
    "location": {"line1": "12 Orchard Way", "town": "Worcester", "postcode": "WR1 2AB"},
    "officer": "PC 4821",
    "people": [
        {
            "nominal_ref": "N100001",
            "forename": "Alexandra",
            "surname": "Testperson",
            "date_of_birth": "02/05/1991",
            "gender": "female",
            "address": {"line1": "12 Orchard Way", "town": "Worcester", "postcode": "WR1 2AB"},
            "role": "victim",
            "relationship": None,
            "present": True,
        },
        {
            "nominal_ref": "N100002",
            "forename": "Brandon",
            "surname": "Examplename",
            "age_years": 38,
            "gender": "male",
            "role": "suspect",
            "relationship": "ex-partner of victim",
            "present": True,
        },
        {
            "nominal_ref": "N100003",
            "forename": "Casey",
            "surname": "Testperson",
            "date_of_birth": "20/09/2016",
            "gender": "female",
            "address": {"line1": "12 Orchard Way", "town": "Worcester", "postcode": "WR1 2AB"},
            "role": "child",
            "relationship": "daughter of victim",
            "school": "Brookfield Primary School",
            "present": False,
        },
    ],
    "dash": {"answers": {key: False for key in DASH_KEYS}, "officer_grading": "medium"},
    "ppn": {"grade": "medium", "raised_at": "13/03/2026 23:30:00 GMT"},
    "child_risk_assessments": [
        {"nominal_ref": "N100003", "level": "medium", "completed_at": "14/03/2026 01:00:00 GMT", "summary": "Seen."}
    ],
    "narrative": "Officers attended after a call from a neighbour.",
}


def raw_incident(**overrides: Any) -> dict[str, Any]:
    """A valid raw incident; keyword arguments replace top-level fields."""
    raw = copy.deepcopy(_BASE)
    raw.update(overrides)
    return raw


_ISR_BASE: dict[str, Any] = {
    "request_id": "ISR-2026-00042",
    "requester": "Shropshire Compass",
    "requester_authority": "shropshire",
    "purpose": "Section 47 enquiry",
    "lawful_basis": "Children Act 1989 s47",
    "received_at": "16/03/2026 10:05 GMT",
    "due_date": "18/03/2026",
    "notes": None,
    "subjects": [{"subject_id": "S1", "forename": "Alexandra", "surname": "Testperson", "date_of_birth": "02/05/1991"}],
}


def raw_isr_request(**overrides: Any) -> dict[str, Any]:
    """A valid raw Information Sharing Request as the ISR bot reads it; keyword arguments replace fields."""
    raw = copy.deepcopy(_ISR_BASE)
    raw.update(overrides)
    return raw
