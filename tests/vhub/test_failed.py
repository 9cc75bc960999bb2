"""Failed jobs for an admin: listed with their reason, whatever form rq stored them in."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from sqlalchemy import select

from tests.failed_jobs import stage_evidence, stage_failed
from tests.review.support import draft_row
from vhub.errors import BusinessError, VhubError
from vhub.evidence import DatabaseEvidence, FolderEvidence
from vhub.failed import (
    UNREADABLE,
    discard,
    evidence_file,
    explain,
    list_failed,
    matching,
    parse_since,
    show,
)
from vhub.queues import SERIALIZER, Jobs
from vhub.store import Database
from vhub.store.runs import ListedVersion, record_found, run_progress, start_run
from vhub.store.tables import AuditEventRow, DraftRow, SubmissionRow


def test_a_job_not_stored_as_json_is_listed_without_unpickling_it(redis_client: Redis) -> None:
    """A job that failed in rq's old pickle form is listed with its reason; its call is not read, not run."""
    queue = Queue("default", connection=redis_client)  # rq's default serializer, as before jobs were JSON
    job = queue.enqueue(math.sqrt, -1)
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    listed = [(failed.id, failed.function, failed.args, failed.reason) for failed in list_failed(Jobs(redis_client))]
    assert [(job.id, "?", UNREADABLE, "ValueError: math domain error")] == listed


# What an admin does with a failed job: read why, replay some, discard one.

DRIFT = (
    "vhub.errors.SelectorDrift: [selector_drift] The records_system page 'incident' has changed: locator "
    "'#dob' matched no element instead of one."
)


@pytest.mark.parametrize(
    ("line", "starts"),
    [
        (DRIFT, "A page of the other system has changed its layout"),
        ("vhub.errors.SystemUnavailable: [system_unavailable] The records system did not answer", "The other system"),
        ("bots.submission.SubmissionUnconfirmed: [submission_unconfirmed] no reference", "The partner's portal may"),
        ("vhub.errors.StoreConflict: [store_conflict] met other workers' inserts", "Other workers were storing"),
        ("rq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (600 seconds)", "The job ran past"),
        ("Work-horse terminated unexpectedly; waitpid returned 9", "The worker running the job stopped"),
        ("KeyError: 'deadline'", "An unexpected error in vhub itself"),
    ],
)
def test_each_kind_of_error_is_said_in_plain_words(line: str, starts: str) -> None:
    """The error's class, code or rq's own words map to one plain sentence; anything else to "unexpected"."""
    assert explain(line).startswith(starts)


def test_since_takes_a_duration_or_a_uk_time() -> None:
    """--since 6h counts back from now; a UK date and time is London time, GMT in winter and BST in summer."""
    now = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert [
        datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
        datetime(2026, 11, 29, 7, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        datetime(2026, 6, 1, 5, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 0, 0, tzinfo=UTC),
    ] == [parse_since(text, now) for text in ("6h", "2 days", "01/12/2026 06:00", "01/06/2026 06:00", "30/11/2026")]


@pytest.mark.parametrize("text", ["yesterday", "-6h", "31/02/2026", "2026-12-01", "6"])
def test_a_since_that_means_nothing_says_how_to_write_it(text: str) -> None:
    """A --since that is neither a duration nor a real UK date is refused with examples."""
    with pytest.raises(VhubError, match=r"--since takes a time back from now, such as 6h") as error:
        parse_since(text, datetime(2026, 12, 1, tzinfo=UTC))
    assert "bad_since" == error.value.code


def test_replaying_narrowed_by_queue_and_time(redis_client: Redis) -> None:
    """Only the failed jobs of the queue asked for, failed since the time asked for, are chosen."""
    jobs = Jobs(redis_client)
    scan = stage_failed(jobs, "scan", "tasks.ingest.scan", "run-1", error=DRIFT)
    submit = stage_failed(jobs, "submit", "tasks.submit.submit_draft", 7, error=DRIFT)
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert (["scan"], [scan], [submit], []) == (
        [job.queue for job in matching(jobs, queue="scan")],
        [job.id for job in matching(jobs, queue="scan")],
        [job.id for job in matching(jobs, queue="submit", since=datetime.now(UTC) - timedelta(hours=1))],
        [job.id for job in matching(jobs, since=later)],
    )
    with pytest.raises(VhubError, match="There is no queue called 'sned'. The queues are: high, submit"):
        matching(jobs, queue="sned")


def approved_draft(db: Database) -> int:
    with db.session() as session:
        draft = draft_row(1, status="approved", content_version=1)
        session.add(draft)
        session.flush()
        session.add(SubmissionRow(draft_id=draft.id, portal="school_portal", key=f"VHUB-{draft.id}-abc", attempts=2))
        return draft.id


def test_discarding_a_send_puts_its_draft_back_in_front_of_a_person(db: Database, redis_client: Redis) -> None:
    """A discarded submission is never silent: the draft goes back to review unsent, marked for attention with the
    reason, its submission withdrawn with its key, and the discard is audited with who, why and what job."""
    jobs = Jobs(redis_client)
    draft_id = approved_draft(db)
    job_id = stage_failed(jobs, "submit", "tasks.submit.submit_draft", draft_id, error=DRIFT)
    outcome = discard(jobs, db, job_id, reason="Sent by hand after a phone call", actor="vhub.admin")
    with db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        submission = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).one()
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "job.discarded")).one()
        moved = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "draft.send_discarded")).one()
        assert ("awaiting_review", True, 2) == (draft.status, draft.needs_attention, draft.content_version)
        assert draft.attention_reason is not None and "Sent by hand after a phone call" in draft.attention_reason
        assert ("withdrawn", f"VHUB-{draft_id}-abc") == (submission.status, submission.key)
        assert ("vhub.admin", "job", job_id) == (event.actor, event.entity_type, event.entity_id)
        assert ("tasks.submit.submit_draft", "Sent by hand after a phone call") == (
            event.before["function"],
            event.after["reason"],
        )
        assert "vhub.admin" == moved.actor
    assert f"Draft #{draft_id} was not sent: it is back in the review queue, marked for attention." == outcome
    assert [] == list_failed(jobs)


def test_a_discard_needs_a_reason_and_a_failed_job(db: Database, redis_client: Redis) -> None:
    """No reason, or an id that is not a failed job, is refused and nothing changes."""
    jobs = Jobs(redis_client)
    draft_id = approved_draft(db)
    job_id = stage_failed(jobs, "submit", "tasks.submit.submit_draft", draft_id, error=DRIFT)
    with pytest.raises(BusinessError, match="Say why the job is being discarded"):
        discard(jobs, db, job_id, reason="   ", actor="vhub.admin")
    with pytest.raises(VhubError, match="not-a-job is not among the failed jobs"):
        discard(jobs, db, "not-a-job", reason="typo", actor="vhub.admin")
    assert [job_id] == [job.id for job in list_failed(jobs)]
    with db.session() as session:
        assert "approved" == session.get_one(DraftRow, draft_id).status


def test_a_job_whose_loss_nobody_would_see_cannot_be_discarded(db: Database, redis_client: Redis) -> None:
    """Triage and drafting jobs are replayed, never discarded: their incident would be left with no drafts."""
    jobs = Jobs(redis_client)
    job_id = stage_failed(jobs, "triage", "tasks.triage.triage_incident", "OCC/26/000101", "x", error=DRIFT)
    with pytest.raises(BusinessError, match="cannot be discarded: the incident would never be triaged") as error:
        discard(jobs, db, job_id, reason="stuck", actor="vhub.admin")
    assert ("not_discardable", [job_id]) == (error.value.code, [job.id for job in list_failed(jobs)])


@pytest.mark.parametrize("where", ["folder", "database"])
def test_evidence_is_found_by_job_and_only_from_the_fixed_list(
    tmp_path: Path, redis_client: Redis, db: Database, where: str
) -> None:
    """A failed job's evidence is found by its id, oldest first, whether kept in folders or moved into the store
    (the folders then gone from the worker's disk); only the listed file names are ever returned, whatever else
    the folder held or a name tries."""
    jobs = Jobs(redis_client)
    job_id = stage_failed(jobs, "ingest", "tasks.ingest.ingest", "run", 7, "OCC/26/000007", "x", error=DRIFT)
    evidence = tmp_path / "evidence"
    second = stage_evidence(evidence, job_id, stamp="20261201T021000000000Z")
    first = stage_evidence(evidence, job_id)
    other = stage_evidence(evidence, "another-job")
    trace = (first / "trace.zip").read_bytes()
    kept = FolderEvidence(evidence) if where == "folder" else DatabaseEvidence(db)
    for folder, owner in ((second, job_id), (first, job_id), (other, "another-job")):
        kept.keep(folder, owner)
    shown = show(jobs, job_id, kept)
    named = (lambda folder: folder) if where == "folder" else (lambda folder: Path("records_system") / folder.name)
    assert [
        (1, named(first), ("screenshot.png", "trace.zip", "page.html")),
        (2, named(second), ("screenshot.png", "trace.zip", "page.html")),
    ] == [(found.number, found.folder, found.files) for found in shown.evidence]
    assert (where == "folder") == first.exists()
    assert [trace, None, None, None, None] == [
        evidence_file(jobs, kept, job_id, 1, "trace.zip"),
        evidence_file(jobs, kept, job_id, 1, "notes.txt"),
        evidence_file(jobs, kept, job_id, 1, "../../another-job/screenshot.png"),
        evidence_file(jobs, kept, job_id, 3, "trace.zip"),
        evidence_file(jobs, kept, "another-job", 1, "trace.zip"),  # not a failed job
    ]


def test_a_task_vhub_cannot_account_for_is_not_discarded(db: Database, redis_client: Redis) -> None:
    """A vhub task whose leftover work is not known (a new kind of job) is refused, so nothing is lost unseen."""
    jobs = Jobs(redis_client)
    job_id = stage_failed(jobs, "scan", "tasks.reports.morning_report", error=DRIFT)
    with pytest.raises(BusinessError, match="vhub cannot tell what of its work a person would then have to do"):
        discard(jobs, db, job_id, reason="stuck", actor="vhub.admin")
    assert [job_id] == [job.id for job in list_failed(jobs)]


def test_discarding_the_last_unread_version_hands_its_run_to_triage(db: Database, redis_client: Redis) -> None:
    """A discarded ingest whose version was the run's last still pending queues the run's triage, as the ingest
    itself would have, so the run's other incidents are not left untriaged."""
    jobs = Jobs(redis_client)
    version = datetime(2026, 11, 30, 22, 15, tzinfo=UTC)
    with db.session() as session:
        run_id = start_run(session, kind="test", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", [ListedVersion(4242, "OCC/26/004242", version)])
    job_id = stage_failed(
        jobs, "ingest", "tasks.ingest.ingest", run_id, 4242, "OCC/26/004242", version.isoformat(), error=DRIFT
    )
    discard(jobs, db, job_id, reason="Worker died; record restricted since", actor="vhub.admin")
    queued = [Job.fetch(i, connection=redis_client, serializer=SERIALIZER) for i in jobs.queue("default").job_ids]
    assert [("tasks.triage.triage_run", [run_id])] == [(job.func_name, list(job.args)) for job in queued]
    with db.session() as session:
        assert "complete" == run_progress(session, run_id)["status"]


def test_failed_show_replay_and_discard_on_the_command_line(
    tmp_path: Path, redis_client: Redis, redis_url: str
) -> None:
    """`vhub failed show` prints the plain words, technical line, queue, function, attempts, UK times and evidence
    folder; `replay --all --queue` says what it replayed; `discard` without --reason is refused."""
    jobs = Jobs(redis_client)
    scan = stage_failed(jobs, "scan", "tasks.ingest.scan", "run-1", error=DRIFT)
    submit = stage_failed(jobs, "submit", "tasks.submit.submit_draft", 7, error=DRIFT)
    folder = stage_evidence(tmp_path / "var" / "evidence", scan)
    env = {"VHUB_DATA_DIR": str(tmp_path / "var"), "VHUB_REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}

    def vhub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vhub", *args], capture_output=True, text=True, env=env, timeout=120
        )

    shown = vhub("failed", "show", scan).stdout.splitlines()
    assert f"Job {scan}: tasks.ingest.scan on queue scan" == shown[0]
    assert shown[1].startswith("What went wrong: A page of the other system has changed its layout")
    assert ["Attempts:        1", f"Evidence 1:      {folder} (screenshot.png, trace.zip, page.html)"] == [
        shown[4],
        shown[7],
    ]
    assert re.fullmatch(r"Failed: +\d{2}/\d{2}/\d{4} \d{2}:\d{2} (GMT|BST)", shown[6])
    refused = vhub("failed", "discard", submit)
    replayed = vhub("failed", "replay", "--all", "--queue", "scan")
    assert (2, "Say why with --reason TEXT") == (refused.returncode, refused.stderr[:26])
    assert [f"Replayed {scan}  scan     tasks.ingest.scan", "Replayed 1 job(s); a worker picks them up."] == (
        replayed.stdout.splitlines()
    )
    assert [submit] == [job.id for job in list_failed(jobs)]
