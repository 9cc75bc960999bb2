"""The verifier's account of each incident version the records system lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from tests.failed_jobs import stage_evidence
from tests.review.support import draft_row
from vhub.evidence import DatabaseEvidence, EvidenceStore, FolderEvidence
from vhub.failed import FailedJob
from vhub.mou import mou_config
from vhub.store import Database
from vhub.store.runs import ListedVersion, advance_watermark, finish_item, record_found, set_item_job, start_run
from vhub.store.tables import (
    DataQualityItemRow,
    DecisionEscalationRow,
    PartnerDecisionRow,
    ScanItemRow,
    SubmissionRow,
)
from vhub.verify import decisions_match_partners, failed_jobs_explained, held_twice, incidents_accounted_for

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


# -- partner decisions -----------------------------------------------------------------------------------------------

MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # a red referral sent now is due Tuesday 17:00 GMT


def sent_referral(session: Session, number: int, *decided: tuple[str, datetime]) -> int:
    """A red referral to Herefordshire MASH sent on MONDAY as HMASH-<number>, and the decisions stored on it."""
    draft = draft_row(
        number,
        workflow="referral",
        status="sent",
        authority="herefordshire",
        risk="red",
        dedupe_key=f"referral|{number}",
        recipient={"kind": "authority", "name": "Herefordshire MASH", "authority": "herefordshire"},
    )
    session.add(draft)
    session.flush()
    session.add(
        SubmissionRow(
            draft_id=draft.id,
            portal="referral_herefordshire",
            key=f"VHUB-{draft.id}-k",
            status="sent",
            partner_reference=f"HMASH-{number}",
            sent_at=MONDAY,
        )
    )
    for outcome, at in decided:
        session.add(
            PartnerDecisionRow(
                draft_id=draft.id,
                authority="herefordshire",
                partner_reference=f"HMASH-{number}",
                outcome=outcome,
                wording=outcome,
                decided_at=at,
            )
        )
    return draft.id


def step_one(draft_id: int, number: int, closed: datetime | None) -> DecisionEscalationRow:
    return DecisionEscalationRow(
        draft_id=draft_id,
        authority="herefordshire",
        risk="red",
        partner_reference=f"HMASH-{number}",
        step=1,
        police_role="VHub duty sergeant",
        partner_role="Front door team manager",
        decision_due_at=datetime(2026, 3, 10, 17, 0, tzinfo=UTC),
        opened_at=datetime(2026, 3, 10, 17, 10, tzinfo=UTC),
        closed_at=closed,
    )


def test_decisions_the_front_door_never_recorded_open_escalations_and_unescalated_overdue_ones_are_breaches(
    db: Database,
) -> None:
    """Against the front doors' own records: a stored decision (first or revised) they hold passes, one they never
    made is a breach; a step left open on a decided referral is one; an undecided referral overdue past the hourly
    check's grace with no escalation is one, while one escalated, or only just overdue, is not."""
    early, revised = MONDAY + timedelta(hours=3), MONDAY + timedelta(days=2)
    with db.session() as session:
        sent_referral(session, 1, ("early_help", early), ("assessment", revised))  # as the front door holds them
        sent_referral(session, 2, ("no_further_action", early))  # the front door decided otherwise
        left_open = sent_referral(session, 3, ("assessment", early))
        escalated = sent_referral(session, 4)
        sent_referral(session, 5)  # overdue since Tuesday 17:00 and never escalated
        session.add_all([step_one(left_open, 3, None), step_one(escalated, 4, None)])
    front_doors = {
        "referral_herefordshire": {
            "HMASH-1": [("early_help", early), ("assessment", revised)],
            "HMASH-2": [("early_help", early)],
            "HMASH-3": [("assessment", early)],
            "HMASH-5": [("strategy_discussion", MONDAY + timedelta(days=3))],  # decided there, not read yet
        }
    }
    wednesday = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    with db.session(read_only=True) as session:
        check = decisions_match_partners(session, front_doors, mou_config(), wednesday)
        just_overdue = decisions_match_partners(session, None, mou_config(), datetime(2026, 3, 10, 18, 0, tzinfo=UTC))
    assert [
        "draft #3: escalation step 1 is open, but its decision is stored",
        f"draft #5 (HMASH-5): no decision, due {datetime(2026, 3, 10, 17, 0, tzinfo=UTC).isoformat()}, and not "
        "escalated",
        f"draft #2: referral_herefordshire has no record of its decision no_further_action of {early.isoformat()}",
    ] == check.breaches
    assert check.figure.startswith("5 referrals sent: 3 decided (4 decisions), 2 open;")
    assert "(1 open ones decided there, to be read)" in check.figure
    assert ["draft #3: escalation step 1 is open, but its decision is stored"] == just_overdue.breaches
    assert "not compared with the front doors" in just_overdue.figure
