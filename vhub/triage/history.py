"""People's other incidents, for the repeat rules: the same child, the same victim, earlier MARAC referrals.

A person is recognised across incidents (and across duplicate nominals of the legacy system) by
normalised name and date of birth; when no date of birth is recorded, by normalised name and address.
Candidates are found by equality on the indexed name key, never by a pattern built from the name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub.models import Address, Incident, Person, Role
from vhub.store.incidents import match_key, name_key
from vhub.store.tables import DashRow, IncidentPersonRow, IncidentRow, PersonRow


def _address_key(address: Address | None) -> str:
    if address is None:
        return "?"
    return f"{address.postcode.replace(' ', '')}|{' '.join(address.line1.casefold().split())}"


def person_key(person: Person, incident: Incident) -> str:
    """Who this person is across incidents: name + date of birth, or name + address without a DOB."""
    key = match_key(person.forename, person.surname, person.date_of_birth)
    if person.date_of_birth is not None:
        return key
    return f"{key}@{_address_key(person.address or incident.location)}"


@dataclass(frozen=True)
class Sighting:
    reference: str
    occurred_at: datetime
    domestic_abuse: bool
    role: str
    dash_yes: int | None = None


@dataclass
class History:
    """Other incidents (latest versions) of the people in one incident, by person key."""

    sightings: dict[str, list[Sighting]] = field(default_factory=dict)
    marac_referrals: dict[str, list[datetime]] = field(default_factory=dict)  # victim key -> occurred_at

    def earlier_high_risk(self, key: str, before: datetime, days: int, threshold: int) -> list[datetime]:
        """When the person was a victim at visible high risk (DASH ``threshold``+ yes) in the ``days`` before:
        each such incident was a MARAC referral by rule, whichever order the incidents were read in."""
        return [
            s.occurred_at
            for s in self.sightings.get(key, [])
            if s.role == "victim"
            and (s.dash_yes or 0) >= threshold
            and 0 < (before - s.occurred_at).total_seconds() <= days * 86400
        ]

    def within(self, key: str, until: datetime, days: int, *, role: Role, domestic_abuse: bool = False) -> set[str]:
        """References where the person held ``role`` in the ``days`` up to and including ``until``."""
        return {
            s.reference
            for s in self.sightings.get(key, [])
            if s.role == role.value
            and 0 <= (until - s.occurred_at).total_seconds() <= days * 86400
            and (s.domestic_abuse or not domestic_abuse)
        }


def load_history(
    session: Session, incident: Incident, marac_referrals: dict[str, list[datetime]] | None = None
) -> History:
    """Every stored incident (latest version) in which someone of this incident appears, by person key."""
    wanted = {person_key(person, incident): person for person in incident.people}
    names = {name_key(person.forename, person.surname) for person in incident.people}
    rows = session.execute(
        select(IncidentPersonRow, IncidentRow, DashRow.yes_count)
        .join(IncidentRow, IncidentPersonRow.incident_id == IncidentRow.id)
        .join(PersonRow, IncidentPersonRow.person_id == PersonRow.id)
        .outerjoin(DashRow, DashRow.incident_id == IncidentRow.id)
        .where(IncidentRow.is_latest.is_(True), PersonRow.name_key.in_(sorted(names)))
    ).all()
    history = History(marac_referrals=marac_referrals or {})
    for link, row, dash_yes in rows:
        key = link_key(link, row)
        if key in wanted:
            history.sightings.setdefault(key, []).append(
                Sighting(row.reference, row.occurred_at, row.domestic_abuse, link.role, dash_yes)
            )
    return history


def link_key(link: IncidentPersonRow, row: IncidentRow) -> str:
    key = match_key(link.forename, link.surname, link.date_of_birth)
    if link.date_of_birth is not None:
        return key
    if link.address_postcode and link.address_line1:
        address = Address(line1=link.address_line1, town=link.address_town or "-", postcode=link.address_postcode)
    else:
        address = Address(line1=row.location_line1, town=row.location_town, postcode=row.location_postcode)
    return f"{key}@{_address_key(address)}"
