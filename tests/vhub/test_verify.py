"""The verifier's account of each incident version the records system lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.failed_jobs import stage_evidence
from vhub.evidence import DatabaseEvidence, EvidenceStore, FolderEvidence
from vhub.failed import FailedJob
from vhub.store import Database
from vhub.store.runs import ListedVersion, advance_watermark, finish_item, record_found, set_item_job, start_run
from vhub.store.tables import DataQualityItemRow, ScanItemRow
from vhub.verify import failed_jobs_explained, held_twice, incidents_accounted_for

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


def failed(job_id: str, function: str, reason: str) -> FailedJob:
    return FailedJob(id=job_id, queue="submit", function=function, args="'7'", failed_at=T0, reason=reason)


@pytest.mark.parametrize("kept_in", ["folder", "database"])
def test_a_bot_job_failed_on_a_page_without_evidence_is_a_breach_and_page_less_failures_need_none(
    tmp_path: Path, kept_in: str, request: pytest.FixtureRequest
) -> None:
    """A submission that failed on the portal's page needs its evidence, in folders or in the store (workers on
    several hosts); one whose worker was killed, an ingest with its evidence, and a triage job (no page at all) do
    not breach; a job with no reason does."""
    folder = stage_evidence(tmp_path / "evidence", "ingest-with-evidence")
    evidence: EvidenceStore = FolderEvidence(tmp_path / "evidence")
    if kept_in == "database":
        evidence = DatabaseEvidence(request.getfixturevalue("db"))
        evidence.keep(folder, "ingest-with-evidence")
    jobs = [
        failed("send-no-evidence", "tasks.submit.submit_draft", "bots.submission.SubmissionUnconfirmed: no reference"),
        failed("ingest-with-evidence", "tasks.ingest.ingest", "vhub.errors.SystemUnavailable: [system_unavailable]"),
        failed("send-killed", "tasks.submit.submit_draft", "Work-horse terminated unexpectedly"),
        failed("triage", "tasks.triage.triage_incident", "sqlite3.OperationalError: database is locked"),
        failed("no-reason", "tasks.draft.draft_action", "no error recorded"),
    ]
    check = failed_jobs_explained(jobs, evidence)
    assert [
        "failed job no-reason (tasks.draft.draft_action) has no reason recorded",
        "failed job send-no-evidence (tasks.submit.submit_draft) failed on a page of another system but left no "
        "evidence",
    ] == check.breaches
    assert "5 failed jobs, 2 of them on a page of another system (evidence looked for)" == check.figure


def test_keys_a_partner_holds_more_than_once_are_counted_by_partner() -> None:
    """Each partner's keys held twice or more, with their counts; keys held once and unkeyed records are not."""
    partners: dict[str, list[str | None]] = {"school_portal": ["A", "B", "A", None, None], "marac_portal": ["C"]}
    assert {"school_portal": {"A": 2}, "marac_portal": {}} == held_twice(partners)
