"""Information Sharing Requests: what a partner asks the police for, and what the response holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from vhub.models import (
    LONDON,
    DateOfBirth,
    Label,
    Name,
    OptionalLongText,
    UKDate,
    UKDateTime,
    birth_problem,
    one_line,
)

# Limits that fit the isr_requests columns (vhub/store/tables.py); names and labels as for incidents.
SubjectId = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(one_line)]
Authority = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(one_line)]
LawfulBasis = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(one_line)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class IsrSubject(_Frozen):
    """A person named in the request. Only named people are ever identified in the response."""

    subject_id: SubjectId  # the portal's id of the subject within the request
    forename: Name
    surname: Name
    date_of_birth: DateOfBirth | None = None


class IsrRequest(_Frozen):
    request_id: str = Field(pattern=r"^ISR-\d{4}-\d{5}$")
    requester: Label  # agency and team, e.g. "Shropshire Compass"
    requester_authority: Authority | None = None
    purpose: Label  # e.g. "Section 47 enquiry"
    lawful_basis: LawfulBasis
    received_at: UKDateTime
    due_date: UKDate
    subjects: list[IsrSubject] = Field(min_length=1)
    notes: OptionalLongText = None

    @model_validator(mode="after")
    def _plausible(self) -> IsrRequest:
        day = self.received_at.astimezone(LONDON).date()
        for index, subject in enumerate(self.subjects):
            problem = birth_problem(subject.date_of_birth, day, "request") if subject.date_of_birth else None
            if problem:
                raise ValueError(f"subjects[{index}].date_of_birth: {problem}")
        return self


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
