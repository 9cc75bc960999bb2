"""From what the ISR portal's request page shows (text) to the raw request vhub.isr.IsrRequest validates.

Only the page's display conventions are undone here (blank cells are absent values); anything odd is
passed on as it is, so validation names the field and a person can look.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from vhub.errors import InvalidRecord
from vhub.isr import IsrRequest
from vhub.models import describe_validation_error

REQUEST_ID_RE = re.compile(r"^ISR-\d{4}-\d{5}$")


def _blank(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def parse_request(page: dict[str, Any]) -> dict[str, Any]:
    """``page`` is what bots.locators.extract read from the request page."""
    values = page["values"]
    return {
        "request_id": values["request_id"],
        "requester": values["requester"],
        "requester_authority": _blank(values["requester_authority"]),
        "purpose": values["purpose"],
        "lawful_basis": values["lawful_basis"],
        "received_at": values["received_at"],
        "due_date": values["due_date"],
        "notes": _blank(values["notes"]),
        "subjects": [
            {
                "subject_id": row["subject_id"],
                "forename": row["forename"],
                "surname": row["surname"],
                "date_of_birth": _blank(row["date_of_birth"]),
            }
            for row in page["groups"]["subjects"]
        ],
    }


def validate_request(raw: dict[str, Any]) -> IsrRequest:
    """Build an IsrRequest from what the bot read; raises InvalidRecord with reasons a person can act on."""
    try:
        return IsrRequest.model_validate(raw)
    except ValidationError as error:
        reasons = describe_validation_error(error)
        request_id = raw.get("request_id") if isinstance(raw.get("request_id"), str) else None
        label = request_id if request_id and REQUEST_ID_RE.match(request_id) else "a request"
        raise InvalidRecord(f"{label} could not be read: " + "; ".join(reasons), reasons) from None


def personal_values(raw: dict[str, Any]) -> list[str]:
    """The values of a request that identify a person, for the log redactor to mask."""
    found: list[Any] = []
    for subject in raw.get("subjects") or []:
        found += [subject.get("forename"), subject.get("surname"), subject.get("date_of_birth")]
        found.append(f"{subject.get('forename')} {subject.get('surname')}")
    return [value for value in found if isinstance(value, str) and value.strip()]
