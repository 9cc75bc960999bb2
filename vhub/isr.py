"""Information Sharing Requests: what a partner asks the police for, and what the response holds."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from vhub.models import OptionalText, UKDate, UKDateTime


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class IsrSubject(_Frozen):
    """A person named in the request. Only named people are ever identified in the response."""

    subject_id: str = Field(min_length=1)  # the portal's id of the subject within the request
    forename: str = Field(min_length=1)
    surname: str = Field(min_length=1)
    date_of_birth: UKDate | None = None


class IsrRequest(_Frozen):
    request_id: str = Field(pattern=r"^ISR-\d{4}-\d{5}$")
    requester: str = Field(min_length=1)  # agency and team, e.g. "Shropshire Compass"
    requester_authority: str | None = None
    purpose: str = Field(min_length=1)  # e.g. "Section 47 enquiry"
    lawful_basis: str = Field(min_length=1)
    received_at: UKDateTime
    due_date: UKDate
    subjects: list[IsrSubject] = Field(min_length=1)
    notes: OptionalText = None


class IncidentSummary(_Frozen):
    """One incident as disclosed about a subject: no other person is named (roles describe them)."""

    reference: str
    occurred_on: date
    incident_type: str
    crime_classification: str | None
    subject_role: str  # victim, suspect, child, witness, household member
    summary: str  # plain English from structured facts, e.g. "... also involved: an adult male (ex-partner)"


class SubjectFinding(_Frozen):
    subject_id: str
    forename: str
    surname: str
    date_of_birth: date | None
    incidents: tuple[IncidentSummary, ...]  # empty = no trace

    @property
    def no_trace(self) -> bool:
        return not self.incidents


class IsrResponse(_Frozen):
    request_id: str
    findings: tuple[SubjectFinding, ...]
    prepared_at: datetime
