"""What each notice carries, field by field: a template sees only these fields, so a recipient gets only them.

The Operation Encompass minimised notice is the strictest: a child, a date and time, presence, a welfare check.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from vhub.drafting.referral_form import ReferralForm
from vhub.models import LONG_TEXT_MAX, Address, DashGrading
from vhub.triage.model import RiskLevel


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_max_length=LONG_TEXT_MAX)


class EncompassMinimisedNotice(_Payload):
    """Only that a domestic abuse incident took place: nothing about who was involved, where, or what happened."""

    child_name: str
    date_of_birth: date | None
    occurred_at: datetime
    present: bool | None
    welfare_check_made: bool | None


class EncompassFullNotice(_Payload):
    child_name: str
    date_of_birth: date | None
    police_reference: str
    occurred_at: datetime
    location: Address
    present: bool | None
    spoken_to: bool | None  # None: the record does not say
    voice_of_child: str | None
    circumstances: str  # from structured facts: the incident's kind and the people by role, never by name


class MaracPerson(_Payload):
    name: str
    date_of_birth: date | None
    age_years: int | None
    relationship: str | None
    address: Address | None


class DashSummary(_Payload):
    officer_grading: DashGrading
    yes_count: int
    high_harm_answers: tuple[str, ...]  # DASH question keys answered yes


class MaracSummary(_Payload):
    """The police summary for a MARAC referral of a victim old enough for MARAC; the perpetrator is not told."""

    police_reference: str
    occurred_at: datetime
    incident: str
    risk: RiskLevel
    victim: MaracPerson
    dash: DashSummary | None
    reasons: tuple[str, ...]
    perpetrators: tuple[MaracPerson, ...]
    children: tuple[MaracPerson, ...]


SENDS_TEXT = frozenset({"isr_response"})
"""Workflows whose reviewed text is what the partner receives (the ISR portal takes the response as written).
Every other workflow's bot sends the structured fields, so their text is a summary for the reviewer only."""


def edited_as(workflow: str, policy: str | None) -> type[BaseModel] | None:
    """The model a reviewer edits the draft's fields through: exactly the fields its bot sends. None: the fields
    are shown, not edited (a MARAC summary also holds facts its portal has no field for)."""
    if workflow == "referral":
        return ReferralForm
    if workflow == "encompass":
        notices: dict[str, type[BaseModel]] = {"full": EncompassFullNotice, "minimised": EncompassMinimisedNotice}
        return notices.get(policy or "")
    return None
