"""The verifier's account of each incident version the records system lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from vhub.store import Database
from vhub.store.runs import ListedVersion, advance_watermark, finish_item, record_found, set_item_job, start_run
from vhub.store.tables import DataQualityItemRow, ScanItemRow
from vhub.verify import incidents_accounted_for

T0 = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


def listed(number: int, minutes: int = 0) -> ListedVersion:
    return ListedVersion(
        system_id=number, reference=f"OCC/26/{number:06d}", last_modified=T0 + timedelta(minutes=minutes)
    )


def test_each_listed_version_is_queued_kept_failed_or_new_and_only_the_unexplained_is_a_breach(db: Database) -> None:
    """Pending in a run: queued. A data-quality item: kept for a person. Failed with its job in the failed list:
    waiting for replay; failed with no such job: missing. Never scanned and newer than the watermark: changed
    after the last scan; never scanned and older: missing."""
    queued, kept, failed, lost_failure, new, never_read = (
        listed(1),
        listed(2),
        listed(3),
        listed(4),
        listed(5, minutes=90),
        listed(6, minutes=-90),
    )
    with db.session() as session:
        run_id = start_run(session, kind="test", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", [queued, kept, failed, lost_failure])
        session.add(
            DataQualityItemRow(
                source_system="records_system",
                system_id=2,
                reference=kept.reference,
                version=kept.last_modified,
                reasons=["people[0].date_of_birth: not a date"],
                raw={},
            )
        )
        for item, job_id in ((failed, "job-still-failed"), (lost_failure, "job-gone")):
            set_item_job(session, run_id, item.reference, item.last_modified, job_id)
            finish_item(session, run_id, item.reference, item.last_modified, "failed")
        session.execute(update(ScanItemRow).where(ScanItemRow.reference == kept.reference).values(status="invalid"))
        advance_watermark(session, "records_system", T0 + timedelta(minutes=30))
    with db.session(read_only=True) as session:
        check = incidents_accounted_for(
            session, [queued, kept, failed, lost_failure, new, never_read], failed_job_ids={"job-still-failed"}
        )
    assert (
        "6 versions listed by the records system: 2 missing, 1 changed after the last scan, "
        "1 failed, waiting for replay, 1 kept for a person, 1 queued"
    ) == check.figure
    assert [lost_failure.reference, never_read.reference] == [breach.split(" ")[0] for breach in check.breaches]
