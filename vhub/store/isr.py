"""Information Sharing Requests in the store, and finding the incidents of a named subject.

A subject is matched to incident links by normalised name and date of birth; a subject named without a
date of birth is matched by name alone, and the draft is flagged so a person confirms identity.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vhub.isr import IsrRequest, IsrSubject
from vhub.models import Incident
from vhub.store.audit import record_event
from vhub.store.incidents import name_key, to_model
from vhub.store.tables import IncidentPersonRow, IncidentRow, IsrRequestRow, PersonRow


def save_request(session: Session, request: IsrRequest) -> bool:
    """Keep a request read from the partner portal; False if it was already kept."""
    if session.scalar(select(IsrRequestRow.id).where(IsrRequestRow.request_id == request.request_id)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                IsrRequestRow(
                    request_id=request.request_id,
                    requester=request.requester,
                    requester_authority=request.requester_authority,
                    purpose=request.purpose,
                    lawful_basis=request.lawful_basis,
                    received_at=request.received_at,
                    due_date=request.due_date,
                    request=request.model_dump(mode="json"),
                )
            )
    except IntegrityError:
        return False
    record_event(
        session,
        actor="isr_intake",
        action="isr.received",
        entity_type="isr_request",
        entity_id=request.request_id,
        after={"subjects": len(request.subjects), "due": request.due_date.isoformat()},
    )
    return True


def request_row(session: Session, request_id: str) -> IsrRequestRow | None:
    return session.scalar(select(IsrRequestRow).where(IsrRequestRow.request_id == request_id))


def known_request_ids(session: Session) -> set[str]:
    return set(session.scalars(select(IsrRequestRow.request_id)))


def subject_matches(subject: IsrSubject, forename: str, surname: str, date_of_birth: date | None) -> bool:
    if name_key(subject.forename, subject.surname) != name_key(forename, surname):
        return False
    return subject.date_of_birth is None or subject.date_of_birth == date_of_birth


def incidents_of(session: Session, subject: IsrSubject) -> list[tuple[Incident, str]]:
    """The latest version of every stored incident the subject is linked to, with the nominal ref they
    hold there; oldest first."""
    name = name_key(subject.forename, subject.surname)
    rows = session.execute(
        select(IncidentPersonRow, IncidentRow)
        .join(IncidentRow, IncidentPersonRow.incident_id == IncidentRow.id)
        .join(PersonRow, IncidentPersonRow.person_id == PersonRow.id)
        .where(IncidentRow.is_latest.is_(True), PersonRow.name_key == name)
        .order_by(IncidentRow.occurred_at)
    ).all()
    found: dict[str, tuple[Incident, str]] = {}
    for link, row in rows:
        if row.reference not in found and subject_matches(subject, link.forename, link.surname, link.date_of_birth):
            found[row.reference] = (to_model(row), link.person.nominal_ref)
    return list(found.values())
