"""From an approved MARAC summary to the values of the MARAC portal's referral form.

The form has one perpetrator: any further one is written, by name, under "anything else" (the perpetrator
is never told, whichever field holds them).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from bots.submission import Submission
from vhub.drafting.payloads import MaracPerson, MaracSummary
from vhub.errors import BusinessError
from vhub.models import LONDON, Address, describe_validation_error


@dataclass(frozen=True)
class ReferralForm:
    """The form to fill: text fields, single choices and the high-risk factors, and who it names."""

    texts: dict[str, str]
    choices: dict[str, str]
    risk_factors: tuple[str, ...]
    personal: tuple[str, ...]  # for the log redactor


def _address(value: Address | None) -> str:
    return f"{value.line1}, {value.town}, {value.postcode}" if value else ""


def _dob(person: MaracPerson) -> str:
    return f"{person.date_of_birth:%d/%m/%Y}" if person.date_of_birth else ""


def _age(person: MaracPerson) -> str:
    """The age, only when there is no date of birth (the form asks for one or the other)."""
    return "" if person.date_of_birth or person.age_years is None else str(person.age_years)


def _described(person: MaracPerson) -> str:
    """``Name, born DD/MM/YYYY, relationship``: one line of a list."""
    parts = [person.name]
    if person.date_of_birth:
        parts.append(f"born {_dob(person)}")
    elif person.age_years is not None:
        parts.append(f"aged {person.age_years}")
    if person.relationship:
        parts.append(person.relationship)
    return ", ".join(parts)


def _personal(people: list[MaracPerson]) -> list[str]:
    found: list[str] = []
    for person in people:
        found += [person.name, *person.name.split(), _dob(person)]
        if person.address:
            found += [person.address.line1, _address(person.address)]
    return found


def referral_form(submission: Submission) -> ReferralForm:
    """The referral form's values for ``submission``; BusinessError when its payload is not a MARAC summary."""
    authority = submission.recipient.get("authority")
    if submission.recipient.get("kind") != "marac" or not authority:
        raise BusinessError(
            f"Draft {submission.draft_id} is not addressed to a MARAC: check its recipient.", code="recipient_not_found"
        )
    try:
        summary = MaracSummary.model_validate(submission.payload)
    except ValidationError as error:
        raise BusinessError(
            f"Draft {submission.draft_id} is not a valid MARAC summary: " + "; ".join(describe_validation_error(error)),
            code="payload_invalid",
        ) from None
    occurred = summary.occurred_at.astimezone(LONDON)
    victim = summary.victim
    first = summary.perpetrators[0] if summary.perpetrators else None
    texts = {
        "police_reference": summary.police_reference,
        "incident_date": f"{occurred:%d/%m/%Y}",
        "incident_time": f"{occurred:%H:%M}",
        "incident_summary": summary.incident,
        "victim_name": victim.name,
        "victim_dob": _dob(victim),
        "victim_age": _age(victim),
        "victim_address": _address(victim.address),
        "dash_yes_count": str(summary.dash.yes_count) if summary.dash else "",
        "referral_reasons": "\n".join(summary.reasons),
        "perpetrator_name": first.name if first else "",
        "perpetrator_dob": _dob(first) if first else "",
        "perpetrator_age": _age(first) if first else "",
        "perpetrator_relationship": (first.relationship or "") if first else "",
        "perpetrator_address": _address(first.address) if first else "",
        "children": "\n".join(_described(child) for child in summary.children),
        "additional_information": "\n".join(
            f"Also alleged perpetrator: {_described(person)}" for person in summary.perpetrators[1:]
        ),
        "referrer_reference": submission.key,
    }
    choices = {
        "marac": str(authority),
        "dash_grading": summary.dash.officer_grading.value if summary.dash else "",
    }
    people = [victim, *summary.perpetrators, *summary.children]
    personal = tuple(value for value in _personal(people) if value)
    return ReferralForm(texts, choices, summary.dash.high_harm_answers if summary.dash else (), personal)
