"""From an approved Operation Encompass draft to the values of the school portal's notice form.

The payload is validated against the notice model of the draft's form (full or minimised) first, so a
minimised notice can never carry a full-form field into the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import ValidationError

from bots.submission import Submission
from vhub.drafting.payloads import EncompassFullNotice, EncompassMinimisedNotice
from vhub.errors import BusinessError
from vhub.models import LONDON, Address, describe_validation_error

FULL, MINIMISED = "full", "minimised"
_YES_NO = {True: "yes", False: "no", None: "not_known"}
_WELFARE = {True: "made", False: "not_made", None: "not_known"}


@dataclass(frozen=True)
class NoticeForm:
    """The form to fill: text fields and select choices by locator name, and what identifies the child."""

    form: str  # full or minimised
    texts: dict[str, str]
    choices: dict[str, str]
    personal: tuple[str, ...]  # for the log redactor


def uk_date(value: date | None) -> str:
    return "" if value is None else f"{value:%d/%m/%Y}"


def _address(value: Address) -> str:
    return f"{value.line1}, {value.town}, {value.postcode}"


def _when(value: datetime) -> tuple[str, str]:
    local = value.astimezone(LONDON)
    return f"{local:%d/%m/%Y}", f"{local:%H:%M}"


def _policy(submission: Submission) -> str:
    policy = submission.extra.get("policy") or (FULL if "police_reference" in submission.payload else MINIMISED)
    if policy not in (FULL, MINIMISED):
        raise BusinessError(
            f"Draft {submission.draft_id} has Operation Encompass form {policy!r}, neither full nor minimised: "
            "set the authority's policy and draft it again.",
            code="encompass_policy_unknown",
        )
    return str(policy)


def notice_form(submission: Submission) -> NoticeForm:
    """The notice form's values for ``submission``; BusinessError when its payload does not fit its form."""
    policy = _policy(submission)
    model = EncompassFullNotice if policy == FULL else EncompassMinimisedNotice
    try:
        notice = model.model_validate(submission.payload)
    except ValidationError as error:
        raise BusinessError(
            f"Draft {submission.draft_id} is not a valid {policy} Operation Encompass notice: "
            + "; ".join(describe_validation_error(error)),
            code="payload_invalid",
        ) from None
    incident_date, incident_time = _when(notice.occurred_at)
    texts = {
        "child_name": notice.child_name,
        "child_dob": uk_date(notice.date_of_birth),
        "incident_date": incident_date,
        "incident_time": incident_time,
    }
    choices = {"present": _YES_NO[notice.present]}
    personal = [notice.child_name, *notice.child_name.split(), texts["child_dob"]]
    if isinstance(notice, EncompassFullNotice):
        texts |= {
            "police_reference": notice.police_reference,
            "location": _address(notice.location),
            "voice_of_child": notice.voice_of_child or "",
            "circumstances": notice.circumstances,
        }
        choices["spoken_to"] = _YES_NO[notice.spoken_to]
        personal += [texts["location"], notice.location.line1]
    else:
        choices["welfare_check"] = _WELFARE[notice.welfare_check_made]
    texts["sender_reference"] = submission.key
    return NoticeForm(policy, texts, choices, tuple(value for value in personal if value))
