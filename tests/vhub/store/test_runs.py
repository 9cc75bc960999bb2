"""Runs and scan items: the watermark follows what is safely handled; invalid records are kept once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vhub.store import Database
from vhub.store.runs import (
    ListedVersion,
    finish_item,
    get_watermark,
    open_data_quality_items,
    record_found,
    record_invalid,
    run_progress,
    start_run,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
LISTED = [ListedVersion(i, f"OCC/26/00000{i}", T0 + timedelta(minutes=i)) for i in range(1, 4)]


def test_watermark_waits_for_the_earliest_unfinished_version(db: Database) -> None:
    """Finishing the second and third versions before the first leaves the watermark unset until then."""
    with db.session() as session:
        run_id = start_run(session, kind="test", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", LISTED)
    for item in (LISTED[2], LISTED[1]):
        with db.session() as session:
            finish_item(session, run_id, item.reference, item.last_modified, "stored")
    with db.session() as session:
        assert None is get_watermark(session, "records_system")
        finish_item(session, run_id, LISTED[0].reference, LISTED[0].last_modified, "invalid")
    with db.session() as session:
        assert LISTED[2].last_modified == get_watermark(session, "records_system")
        assert {"status": "complete", "found": 3, "counts": {"stored": 2, "invalid": 1}, "done": 3} == run_progress(
            session, run_id
        )


def test_invalid_record_is_kept_once(db: Database) -> None:
    """The same invalid version met twice is one data-quality item, with its reasons."""
    for _ in range(2):
        with db.session() as session:
            record_invalid(
                session,
                system="records_system",
                system_id=7,
                reference="OCC/26/000007",
                version=T0,
                reasons=["occurred_at: is missing"],
                raw={"reference": "OCC/26/000007"},
            )
    with db.session() as session:
        items = open_data_quality_items(session)
        assert [("OCC/26/000007", ["occurred_at: is missing"])] == [(i.reference, i.reasons) for i in items]
