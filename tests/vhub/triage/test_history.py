"""People's other incidents, from the store: found by the indexed name key, whatever the name holds."""

from __future__ import annotations

from typing import Any

from tests.factories import raw_incident
from vhub.models import Incident, validate_incident
from vhub.store import Database
from vhub.store.incidents import save_incident
from vhub.triage import load_history, person_key


def stored(db: Database, incident: Incident) -> Incident:
    with db.session() as session:
        save_incident(session, incident, source_system="records_system")
    return incident


def later_incident(**victim: Any) -> Incident:
    """A second incident a month on, under other nominal references, with the victim as given."""
    raw = raw_incident(
        reference="OCC/26/000202",
        system_id=202,
        last_modified="14/04/2026 09:15:00 BST",
        occurred_at="13/04/2026 22:40:00 BST",
        child_risk_assessments=[],
    )
    for index, person in enumerate(raw["people"]):
        person["nominal_ref"] = f"N20000{index}"
    raw["people"][0].update(victim)
    return validate_incident(raw)


def test_the_victim_is_found_in_an_earlier_incident_under_another_nominal(db: Database) -> None:
    """Same normalised name (accents, capitals, punctuation aside) and date of birth: the same person."""
    stored(db, validate_incident(raw_incident()))
    later = stored(db, later_incident(forename="ALEXANDRA", surname="Test-person"))
    with db.session() as session:
        history = load_history(session, later)
    key = person_key(later.people[0], later)
    assert ["OCC/26/000101", "OCC/26/000202"] == sorted(s.reference for s in history.sightings[key])


def test_a_name_too_long_for_a_like_pattern_still_finds_its_incidents(db: Database) -> None:
    """A stored name of 60,000 characters (past SQLite's LIKE pattern limit) is matched by equality, not a pattern."""
    incident = validate_incident(raw_incident())
    victim = incident.people[0].model_copy(update={"surname": "Testperson" * 6_000})
    incident = stored(db, incident.model_copy(update={"people": [victim, *incident.people[1:]]}))
    with db.session() as session:
        history = load_history(session, incident)
    assert ["OCC/26/000101"] == [s.reference for s in history.sightings[person_key(victim, incident)]]
