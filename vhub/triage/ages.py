"""Ages on the day of the incident: the one rule for who is a child, used by triage and drafting alike.

The role a record gives a person decides nothing: a child victim is a child, and a "child" come of age is not.
"""

from __future__ import annotations

from datetime import date

from vhub.models import LONDON, Incident, Person, Role
from vhub.triage.config import AgePolicy


def incident_day(incident: Incident) -> date:
    """The day the incident happened, in UK time (ages are worked out on it)."""
    return incident.occurred_at.astimezone(LONDON).date()


def age_at(person: Person, incident: Incident) -> int | None:
    """Whole years on the day of the incident, from the date of birth or else the recorded age; None: neither."""
    return person.age_on(incident_day(incident))


def is_child(person: Person, incident: Incident, ages: AgePolicy) -> bool | None:
    """Under ``ages.child_under`` on the day of the incident; None when neither a birth date nor an age is known."""
    age = age_at(person, incident)
    return None if age is None else age < ages.child_under


def children_of(incident: Incident, ages: AgePolicy) -> list[Person]:
    """Everyone linked to the incident who was a child on its day, in the record's order, whatever their role."""
    return [person for person in incident.people if is_child(person, incident, ages)]


def months_at(person: Person, incident: Incident) -> tuple[int, int] | None:
    """Whole months of age on the day of the incident, as (youngest, oldest) possible: exact from a date of
    birth; from an age in years only, the twelve months that age spans. None when neither is recorded."""
    born = person.date_of_birth
    if born is None:
        return None if person.age_years is None else (person.age_years * 12, person.age_years * 12 + 11)
    day = incident_day(incident)
    months = (day.year - born.year) * 12 + day.month - born.month - (1 if day.day < born.day else 0)
    return months, months


def as_child(person: Person) -> str:
    """How reasons name a child by role: ``child``, ``child victim``, ``child suspect``, ``child witness``."""
    return "child" if person.role is Role.child else f"child {person.role.value}"
