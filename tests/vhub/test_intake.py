"""Reading a record: what fails validation is kept for a person once per version, or once per content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bots.isr_portal.parse import validate_request
from tests.factories import raw_incident, raw_isr_request
from vhub.errors import BusinessError
from vhub.intake import Invalid, keep_invalid, read_valid
from vhub.models import validate_incident
from vhub.store import Database
from vhub.store.runs import open_data_quality_items

T0 = datetime(2026, 3, 16, 10, tzinfo=UTC)


def test_a_valid_record_is_returned_validated() -> None:
    """What validates is the model itself."""
    assert validate_incident(raw_incident()) == read_valid(raw_incident, validate_incident)


def test_an_invalid_record_keeps_what_was_read_and_why() -> None:
    """A record that fails validation comes back with its reasons and the raw record, for a person."""
    raw = raw_incident(occurred_at="")
    assert Invalid(["occurred_at: is missing or is not a date and time (DD/MM/YYYY HH:MM)"], raw) == read_valid(
        lambda: raw, validate_incident
    )


def test_a_record_that_cannot_be_read_keeps_the_reason() -> None:
    """A business error while reading (the record is gone) is kept with its message and nothing read."""

    def gone() -> dict[str, Any]:
        raise BusinessError("The records system no longer shows incident id 9: check it in the records system.")

    assert Invalid(["The records system no longer shows incident id 9: check it in the records system."], {}) == (
        read_valid(gone, validate_incident)
    )


def keep(db: Database, raw: dict[str, Any], version: datetime | None) -> bool:
    invalid = read_valid(lambda: raw, validate_request)
    assert isinstance(invalid, Invalid)
    with db.session() as session:
        return keep_invalid(
            session,
            invalid,
            system="isr_portal",
            system_id=202600042,
            reference="ISR-2026-00042",
            version=version,
            actor="isr_intake",
        )


def test_an_unversioned_record_read_again_unchanged_is_kept_once(db: Database, monkeypatch: Any) -> None:
    """The same invalid request read at three scans, minutes apart, is one item; once changed, a second."""
    clock = iter(T0 + timedelta(minutes=30 * scan) for scan in range(10))
    monkeypatch.setattr("vhub.intake.utcnow", lambda: next(clock))
    raw = raw_isr_request(due_date="")
    assert [True, False, False] == [keep(db, raw, None) for _ in range(3)]
    raw["purpose"] = ""
    assert True is keep(db, raw, None)
    with db.session() as session:
        items = open_data_quality_items(session)
        assert [
            (T0, ["due_date: is missing or is not a date (DD/MM/YYYY)"], raw_isr_request(due_date="")),
            (
                T0 + timedelta(minutes=90),
                ["purpose: is empty", "due_date: is missing or is not a date (DD/MM/YYYY)"],
                raw,
            ),
        ] == [(item.version, item.reasons, item.raw) for item in items]


def test_a_versioned_record_is_kept_once_per_version(db: Database) -> None:
    """A record with a version is recognised by it: the same version twice is one item, a new version another."""
    raw = raw_isr_request(due_date="")
    assert [True, False, True] == [keep(db, raw, T0), keep(db, raw, T0), keep(db, raw, T0 + timedelta(hours=1))]
