"""Storing incident versions: idempotent, versioned, rebuilt exactly, audited."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import ON_POSTGRESQL_ONLY
from tests.factories import raw_incident
from vhub.models import validate_incident
from vhub.store import Database
from vhub.store.drafts import incident_row
from vhub.store.incidents import count_incidents, load_incident, match_key, save_incident, to_model
from vhub.store.tables import AuditEventRow, PersonRow

pytestmark = pytest.mark.both_engines


def test_stored_incident_is_rebuilt_field_by_field(db: Database) -> None:
    """What is loaded back equals what was stored, people, DASH, PPN and assessments included."""
    incident = validate_incident(raw_incident())
    with db.session() as session:
        assert "new" == save_incident(session, incident, source_system="records_system")
    with db.session() as session:
        assert incident == load_incident(session, incident.reference)


def test_same_version_twice_adds_nothing(db: Database) -> None:
    """Storing a version already stored leaves the store and the audit trail as they were."""
    incident = validate_incident(raw_incident())
    with db.session() as session:
        save_incident(session, incident, source_system="records_system")
    with db.session() as session:
        assert "unchanged" == save_incident(session, incident, source_system="records_system")
        assert 1 == count_incidents(session, versions=True)
        assert 1 == session.scalar(select(func.count(AuditEventRow.id)))


def test_newer_version_is_kept_beside_the_old(db: Database) -> None:
    """A newer last-modified time is a new version; the latest is what a plain load returns."""
    old = validate_incident(raw_incident())
    new = validate_incident(raw_incident(last_modified="15/03/2026 10:00:00 GMT", narrative="Updated."))
    with db.session() as session:
        save_incident(session, new, source_system="records_system")
        save_incident(session, old, source_system="records_system")
    with db.session() as session:
        assert (1, 2) == (count_incidents(session), count_incidents(session, versions=True))
        assert new == load_incident(session, old.reference)
        assert old == load_incident(session, old.reference, old.last_modified)


def test_nominals_are_matched_by_normalised_name_and_birth_date(db: Database) -> None:
    """Each nominal is stored once, with a key that ignores case, accents and spacing."""
    with db.session() as session:
        save_incident(session, validate_incident(raw_incident()), source_system="records_system")
    with db.session() as session:
        keys = session.scalars(select(PersonRow.match_key).order_by(PersonRow.nominal_ref)).all()
    assert ["alexandra testperson|1991-05-02", "brandon examplename|?", "casey testperson|2016-09-20"] == keys
    assert match_key("ZOË", "o'brien  smith", None) == match_key("Zoe", "OBrien Smith", None)


def test_audit_trail_is_append_only(db: Database) -> None:
    """The database itself refuses to change or delete an audit event."""
    with db.session() as session:
        save_incident(session, validate_incident(raw_incident()), source_system="records_system")
    for statement in ("UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"):
        with pytest.raises(IntegrityError, match="append-only"), db.session() as session:
            session.execute(text(statement))


@ON_POSTGRESQL_ONLY
def test_postgresql_refuses_to_truncate_the_audit_trail(db: Database) -> None:
    """TRUNCATE, which empties a table without deleting row by row, is refused like UPDATE and DELETE."""
    with db.session() as session:
        save_incident(session, validate_incident(raw_incident()), source_system="records_system")
    with pytest.raises(IntegrityError, match="append-only"), db.session() as session:
        session.execute(text("TRUNCATE audit_events"))
    with db.session() as session:
        assert session.scalar(select(func.count(AuditEventRow.id))) > 0


@ON_POSTGRESQL_ONLY
def test_two_incidents_naming_the_same_new_person_are_both_stored_when_read_at_once(db: Database) -> None:
    """Two workers store incidents that name the same person, not yet in the store, at the same moment: the one
    whose person row meets the other's waits, then stores its incident too, and never reports it already stored
    (it did, and the run completed with the incident missing)."""
    first = validate_incident(raw_incident())
    second = validate_incident(raw_incident(reference="OCC/26/000202", system_id=202))
    outcome: dict[str, str] = {}

    def store_second() -> None:
        with db.session() as session:
            outcome["second"] = save_incident(session, second, source_system="records_system")

    other = threading.Thread(target=store_second)
    with db.session() as session:
        assert "new" == save_incident(session, first, source_system="records_system")
        other.start()  # its insert of the shared people waits on this transaction's uncommitted rows
        _wait_until_a_statement_waits_on_a_lock(db)
    other.join(timeout=30)
    assert {"second": "new"} == outcome
    with db.session() as session:
        assert first == load_incident(session, first.reference)
        assert second == load_incident(session, second.reference)


def _wait_until_a_statement_waits_on_a_lock(db: Database) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.engine.connect() as connection:
            if connection.scalar(waiting):
                return
        time.sleep(0.05)
    pytest.fail("the second transaction never waited on the first")


def test_a_stored_version_is_read_whole_in_the_same_statements_however_many_people_it_holds(db: Database) -> None:
    """Reading a version for triage or drafting and rebuilding it takes one statement per table, not one per
    person: an incident with seven people costs what one with three does."""

    def statements_to_rebuild(people: int) -> int:
        raw = raw_incident(reference=f"OCC/26/{people:06d}")
        raw["people"] += [
            dict(raw["people"][0], nominal_ref=f"N{900000 + n}", forename=f"Name{n}") for n in range(people - 3)
        ]
        incident = validate_incident(raw)
        with db.session() as session:
            save_incident(session, incident, source_system="records_system")
        executed: list[str] = []

        def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
            executed.append(statement)

        with db.session() as session:
            engine = session.get_bind()
            event.listen(engine, "before_cursor_execute", count)
            try:
                row = incident_row(session, incident.reference, incident.last_modified)
                assert row is not None
                assert people == len(to_model(row).people)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return len(executed)

    assert statements_to_rebuild(3) == statements_to_rebuild(7) <= 7
