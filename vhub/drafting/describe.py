"""Describing people by role and incidents by their structured facts, so a disclosure names nobody.

Nothing here reads an incident's narrative: officers write names into it.
"""

from __future__ import annotations

import re
from datetime import date

from vhub.drafting.environment import uk_date
from vhub.errors import BusinessError
from vhub.isr import IncidentSummary
from vhub.models import Gender, Incident, Person
from vhub.triage.ages import incident_day
from vhub.triage.config import AgePolicy, load_config

_CHILD_NOUNS = {Gender.female: "girl", Gender.male: "boy"}
_ADULT_NOUNS = {Gender.female: "adult female", Gender.male: "adult male"}
_UNKNOWN_AGE_NOUNS = {Gender.female: "a female", Gender.male: "a male"}


def describe_person(person: Person, on: date, ages: AgePolicy | None = None) -> str:
    """A descriptor that never identifies: ``an adult male``, ``a girl aged 9``, ``a person of unknown age``.

    A child is under ``ages.child_under`` on ``on`` (config/triage.toml unless given), as triage decides."""
    age = person.age_on(on)
    if age is None:
        return f"{_UNKNOWN_AGE_NOUNS.get(person.gender, 'a person')} of unknown age"
    if age >= (ages or load_config().policy.ages).child_under:
        return f"an {_ADULT_NOUNS.get(person.gender, 'adult')}"
    noun = _CHILD_NOUNS.get(person.gender, "child")
    return f"a {noun} aged under 1" if age < 1 else f"a {noun} aged {age}"


def incident_kind(incident: Incident) -> str:
    """``Domestic abuse (Common assault)``, or the incident type alone when nothing was classified."""
    if incident.crime_classification:
        return f"{incident.incident_type} ({incident.crime_classification})"
    return incident.incident_type


def person_in(incident: Incident, nominal_ref: str) -> Person:
    """The linked person with this nominal reference; a BusinessError when the incident has no such person."""
    for person in incident.people:
        if person.nominal_ref == nominal_ref:
            return person
    raise BusinessError(
        f"Incident {incident.reference} has no linked person with nominal reference {nominal_ref}: "
        "re-run triage on the latest version of the incident.",
        code="subject_not_linked",
    )


def summarise_for_subject(
    incident: Incident, subject_nominal_ref: str, ages: AgePolicy | None = None
) -> IncidentSummary:
    """One incident as it may be disclosed about one subject: built from structured facts, naming nobody."""
    subject = person_in(incident, subject_nominal_ref)
    day = incident_day(incident)
    others = others_involved(incident, subject, ages)
    sentences = [f"{incident_kind(incident)} on {uk_date(day)}.", f"Recorded as {subject.role.value}."]
    if others:
        sentences.append(f"Also involved: {'; '.join(others)}.")
    gradings = []
    if incident.dash is not None:
        gradings.append(f"DASH: {incident.dash.officer_grading.value}")
    if incident.ppn is not None:
        gradings.append(f"PPN: {incident.ppn.grade.value}")
    if gradings:
        sentences.append(f"{'; '.join(gradings)}.")
    return IncidentSummary(
        reference=incident.reference,
        occurred_on=day,
        incident_type=incident.incident_type,
        crime_classification=incident.crime_classification,
        subject_role=subject.role.value,
        summary=" ".join(sentences),
    )


def others_involved(incident: Incident, subject: Person, ages: AgePolicy | None = None) -> list[str]:
    """Everyone linked to the incident but the subject, by role: ``an adult male (ex-partner of victim)``.

    The recorded relationship goes in brackets, or the role when there is none or it names someone.
    """
    day = incident_day(incident)
    described = []
    for person in incident.people:
        if person is subject:
            continue
        relationship = person.relationship
        if relationship is None or _mentions_anyone(relationship, incident):
            relationship = person.role.value
        described.append(f"{describe_person(person, day, ages)} ({relationship})")
    return described


def _mentions_anyone(text: str, incident: Incident) -> bool:
    """Whether free text names anyone linked to the incident (a relationship such as ``partner of Jo Bloggs``)."""
    names = {name for person in incident.people for name in (person.forename, person.surname)}
    return any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) for name in names)
