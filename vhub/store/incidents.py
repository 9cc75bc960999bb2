"""Storing and loading incident versions. Storing the same version twice adds nothing."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from vhub.errors import StoreConflict
from vhub.models import Address, ChildRiskAssessment, DashAssessment, Incident, Person, Ppn
from vhub.store.audit import record_event
from vhub.store.tables import (
    ChildRiskAssessmentRow,
    DashRow,
    IncidentPersonRow,
    IncidentRow,
    PersonRow,
    PpnRow,
    utcnow,
)

SaveOutcome = Literal["new", "unchanged"]
_ATTEMPTS = 3  # a version meets at most a few other workers' inserts of the same people


def name_key(forename: str, surname: str) -> str:
    """The normalised name: ``ZOË o'Brien`` and ``Zoe OBrien`` are the same name."""
    name = unicodedata.normalize("NFKD", f"{forename} {surname}").encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z ]", "", name.lower())
    return re.sub(r"\s+", " ", name).strip()


def match_key(forename: str, surname: str, date_of_birth: date | None) -> str:
    """Normalised name plus date of birth: the same child recorded under two nominals matches."""
    return f"{name_key(forename, surname)}|{date_of_birth.isoformat() if date_of_birth else '?'}"


def has_version(session: Session, reference: str, last_modified: datetime) -> bool:
    found = session.scalar(
        select(IncidentRow.id).where(IncidentRow.reference == reference, IncidentRow.last_modified == last_modified)
    )
    return found is not None


def save_incident(session: Session, incident: Incident, *, source_system: str, actor: str = "ingest") -> SaveOutcome:
    """Store one incident version; an already stored version is left as it is.

    The insert runs in a savepoint. A unique key met there is another worker's insert, now committed: of the
    same version (then this one is "unchanged"), or of a person both incidents name and neither found stored
    (then the next attempt finds that person's row and stores this version beside it). A key met is never
    taken to mean this version is stored without looking: that lost incidents while their run completed."""
    for _ in range(_ATTEMPTS):
        if has_version(session, incident.reference, incident.last_modified):
            return "unchanged"
        try:
            with session.begin_nested():
                session.add(_incident_row(session, incident, source_system))
                session.flush()
        except IntegrityError:
            continue
        break
    else:
        raise StoreConflict(f"an incident version met other workers' inserts {_ATTEMPTS} times; try again")
    newest = session.scalar(
        select(func.max(IncidentRow.last_modified)).where(IncidentRow.reference == incident.reference)
    )
    session.execute(
        update(IncidentRow)
        .where(IncidentRow.reference == incident.reference)
        .values(is_latest=IncidentRow.last_modified == newest)
    )
    record_event(
        session,
        actor=actor,
        action="incident.stored",
        entity_type="incident",
        entity_id=incident.reference,
        after={"version": incident.last_modified.isoformat(), "system_id": incident.system_id},
    )
    return "new"


def _person(session: Session, person: Person) -> PersonRow:
    row = session.scalar(select(PersonRow).where(PersonRow.nominal_ref == person.nominal_ref))
    key = match_key(person.forename, person.surname, person.date_of_birth)
    if row is None:
        row = PersonRow(nominal_ref=person.nominal_ref)
        session.add(row)
    row.forename, row.surname, row.date_of_birth, row.match_key = (
        person.forename,
        person.surname,
        person.date_of_birth,
        key,
    )
    row.name_key = name_key(person.forename, person.surname)
    row.updated_at = utcnow()
    return row


def _incident_row(session: Session, incident: Incident, source_system: str) -> IncidentRow:
    row = IncidentRow(
        source_system=source_system,
        reference=incident.reference,
        system_id=incident.system_id,
        last_modified=incident.last_modified,
        incident_type=incident.incident_type,
        domestic_abuse=incident.domestic_abuse,
        crime_classification=incident.crime_classification,
        occurred_at=incident.occurred_at,
        location_line1=incident.location.line1,
        location_town=incident.location.town,
        location_postcode=incident.location.postcode,
        officer=incident.officer,
        narrative=incident.narrative,
    )
    for position, person in enumerate(incident.people):
        address = person.address
        row.people.append(
            IncidentPersonRow(
                person=_person(session, person),
                position=position,
                role=person.role.value,
                forename=person.forename,
                surname=person.surname,
                date_of_birth=person.date_of_birth,
                age_years=person.age_years,
                gender=person.gender.value,
                address_line1=address.line1 if address else None,
                address_town=address.town if address else None,
                address_postcode=address.postcode if address else None,
                relationship_to=person.relationship,
                school=person.school,
                home_educated=person.home_educated,
                present=person.present,
                voice_of_child=person.voice_of_child,
            )
        )
    if incident.dash is not None:
        row.dash = DashRow(
            officer_grading=incident.dash.officer_grading.value,
            yes_count=incident.dash.yes_count,
            answers=dict(incident.dash.answers),
        )
    if incident.ppn is not None:
        row.ppn = PpnRow(grade=incident.ppn.grade.value, raised_at=incident.ppn.raised_at)
    for position, cra in enumerate(incident.child_risk_assessments):
        row.child_risk_assessments.append(
            ChildRiskAssessmentRow(
                position=position,
                nominal_ref=cra.nominal_ref,
                level=cra.level.value,
                completed_at=cra.completed_at,
                summary=cra.summary,
                age_years=cra.age_years,
                voice_of_child=cra.voice_of_child,
                risk_factors=list(cra.risk_factors),
                actions=[action.model_dump() for action in cra.actions],
                area=cra.area,
                team=cra.team,
            )
        )
    return row


def to_model(row: IncidentRow) -> Incident:
    """Rebuild the validated domain object from its rows."""
    people = [
        Person(
            nominal_ref=link.person.nominal_ref,
            forename=link.forename,
            surname=link.surname,
            date_of_birth=link.date_of_birth,
            age_years=link.age_years,
            gender=link.gender,
            address=Address(line1=link.address_line1, town=link.address_town, postcode=link.address_postcode)
            if link.address_line1 and link.address_town and link.address_postcode
            else None,
            role=link.role,
            relationship=link.relationship_to,
            school=link.school,
            home_educated=link.home_educated,
            present=link.present,
            voice_of_child=link.voice_of_child,
        )
        for link in row.people
    ]
    return Incident(
        reference=row.reference,
        system_id=row.system_id,
        last_modified=row.last_modified,
        incident_type=row.incident_type,
        domestic_abuse=row.domestic_abuse,
        crime_classification=row.crime_classification,
        occurred_at=row.occurred_at,
        location=Address(line1=row.location_line1, town=row.location_town, postcode=row.location_postcode),
        officer=row.officer,
        people=people,
        dash=DashAssessment(answers=row.dash.answers, officer_grading=row.dash.officer_grading) if row.dash else None,
        ppn=Ppn(grade=row.ppn.grade, raised_at=row.ppn.raised_at) if row.ppn else None,
        child_risk_assessments=[
            ChildRiskAssessment(
                nominal_ref=cra.nominal_ref,
                level=cra.level,
                completed_at=cra.completed_at,
                summary=cra.summary,
                age_years=cra.age_years,
                voice_of_child=cra.voice_of_child,
                risk_factors=cra.risk_factors or [],
                actions=cra.actions or [],
                area=cra.area,
                team=cra.team,
            )
            for cra in row.child_risk_assessments
        ],
        narrative=row.narrative,
    )


# Every part of an incident, loaded in one statement per table rather than one per person when
# ``to_model`` walks it (lazy loading cost triage and drafting nine statements an incident).
WHOLE = (
    selectinload(IncidentRow.people).selectinload(IncidentPersonRow.person),
    selectinload(IncidentRow.dash),
    selectinload(IncidentRow.ppn),
    selectinload(IncidentRow.child_risk_assessments),
)


def load_incident(session: Session, reference: str, last_modified: datetime | None = None) -> Incident | None:
    """The given version of an incident, or its latest when no version is given."""
    query = select(IncidentRow).where(IncidentRow.reference == reference).options(*WHOLE)
    if last_modified is None:
        query = query.where(IncidentRow.is_latest.is_(True))
    else:
        query = query.where(IncidentRow.last_modified == last_modified)
    row = session.scalar(query)
    return to_model(row) if row else None


def latest_incidents(session: Session) -> list[Incident]:
    rows = session.scalars(
        select(IncidentRow).where(IncidentRow.is_latest.is_(True)).order_by(IncidentRow.reference).options(*WHOLE)
    )
    return [to_model(row) for row in rows]


def count_incidents(session: Session, *, versions: bool = False) -> int:
    query = select(func.count(IncidentRow.id))
    if not versions:
        query = query.where(IncidentRow.is_latest.is_(True))
    return session.scalar(query) or 0
