"""Failed jobs for an admin: what failed and why in plain words, its evidence, replaying it and discarding it.

Discarding never loses work silently: an ingest leaves its incident as a data-quality item in the review queue, a
submission sends its draft back to review marked for attention, a scan leaves the watermark where it was. A job
whose loss no person would see (triage, drafting, an ISR lookup) cannot be discarded: it must be replayed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub import evidence
from vhub.errors import BusinessError, VhubError
from vhub.evidence import Evidence, EvidenceStore
from vhub.failure_reasons import explain
from vhub.models import LONDON
from vhub.queues import SERIALIZER, Jobs
from vhub.store import Database
from vhub.store.audit import record_event
from vhub.store.draft_status import DraftStatus, move
from vhub.store.incidents import has_version
from vhub.store.runs import finish_item, hand_to_triage, record_invalid
from vhub.store.tables import DraftRow, RunRow, ScanItemRow, SubmissionRow, utcnow

# A job whose data is not JSON (it failed before jobs were stored as JSON, or vhub did not write it) is
# still listed with its reason, but its function and arguments are never unpickled to show them (and a
# worker refuses it if it is replayed).
UNREADABLE = "(not readable: not stored as JSON)"
JOB_ID = evidence.JOB_ID
EVIDENCE_FILES = evidence.FILES  # the only files of an evidence folder that are ever served, and how

# vhub's jobs that can be discarded, each leaving its work where a person sees it (``_leave_for_a_person``).
_DISCARDED = {
    "tasks.ingest.ingest",
    "tasks.submit.submit_draft",
    "tasks.ingest.scan",
    "tasks.isr.isr_scan",
    "tasks.ingest.start_scan",
    "tasks.isr.start_isr_scan",
}
# Jobs whose loss no person would see: they are replayed, never discarded.
_NOT_DISCARDED = {
    "tasks.triage.triage_run": "the run's incidents would never be triaged",
    "tasks.triage.triage_incident": "the incident would never be triaged, so nobody would draft its actions",
    "tasks.draft.draft_action": "the action would never be drafted, so nobody would review or send it",
    "tasks.isr.isr_lookup": "the information sharing request would never be answered",
}


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    function: str
    args: str
    failed_at: datetime | None
    reason: str
    attempts: int = 1
    enqueued_at: datetime | None = None
    evidence: tuple[Evidence, ...] = field(default=())

    @property
    def explanation(self) -> str:
        """What failed, in one sentence or two a person who is not a developer can act on."""
        return explain(self.reason)


def _aware(moment: datetime | None) -> datetime | None:
    """rq keeps UTC times without a zone."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _reason(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result is not None else "") or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no error recorded"


def _attempts(job: Job) -> int:
    failures = sum(1 for result in job.results() if result.type == Result.Type.FAILED)
    return max(failures, 1)


def _call(job: Job) -> tuple[str, str]:
    try:
        return job.func_name or "?", ", ".join(repr(arg) for arg in job.args)
    except DeserializationError:
        return "?", UNREADABLE


def _failed_job(job: Job, queue: str, kept: EvidenceStore | None = None) -> FailedJob:
    function, args = _call(job)
    return FailedJob(
        id=job.id,
        queue=queue,
        function=function,
        args=args,
        failed_at=_aware(job.ended_at),
        reason=_reason(job),
        attempts=_attempts(job),
        enqueued_at=_aware(job.enqueued_at),
        evidence=kept.of_job(job.id) if kept is not None else (),
    )


def list_failed(jobs: Jobs) -> list[FailedJob]:
    found = []
    for queue in jobs.queues():
        registry = FailedJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            try:
                job = Job.fetch(job_id, connection=jobs.connection, serializer=SERIALIZER)
            except NoSuchJobError:
                continue
            found.append(_failed_job(job, queue.name))
    return sorted(found, key=lambda job: job.failed_at or datetime.min.replace(tzinfo=UTC))


def _unknown(job_ids: list[str], what: str) -> VhubError:
    return VhubError(
        f"{', '.join(job_ids)} {'is' if len(job_ids) == 1 else 'are'} not among the failed jobs; "
        f"`vhub failed list` shows the ids of those that are. Nothing was {what}.",
        code="unknown_job",
    )


def _registry_of(jobs: Jobs, job_id: str) -> FailedJobRegistry | None:
    for queue in jobs.queues():
        registry = FailedJobRegistry(queue=queue)
        if job_id in registry.get_job_ids():
            return registry
    return None


def show(jobs: Jobs, job_id: str, kept: EvidenceStore) -> FailedJob:
    """One failed job with its evidence; refuses an id that is not a failed job."""
    registry = _registry_of(jobs, job_id) if JOB_ID.fullmatch(job_id) else None
    if registry is None:
        raise _unknown([job_id], "shown")
    try:
        job = Job.fetch(job_id, connection=jobs.connection, serializer=SERIALIZER)
    except NoSuchJobError:
        raise _unknown([job_id], "shown") from None
    return _failed_job(job, registry.name, kept)


def evidence_file(jobs: Jobs, kept: EvidenceStore, job_id: str, number: int, name: str) -> bytes | None:
    """The file ``name`` (from the fixed list) of a failed job's ``number``th evidence, or None. Where it is read
    from is found from what was kept, never from what was asked for."""
    if name not in EVIDENCE_FILES or not JOB_ID.fullmatch(job_id) or _registry_of(jobs, job_id) is None:
        return None
    return kept.read(job_id, number, name)


def check_failed(jobs: Jobs, job_ids: list[str]) -> None:
    """Refuse ids that are not failed jobs (a typo, or a job already replayed or expired)."""
    failed = {job_id for queue in jobs.queues() for job_id in FailedJobRegistry(queue=queue).get_job_ids()}
    unknown = [job_id for job_id in job_ids if job_id not in failed]
    if unknown:
        raise _unknown(unknown, "replayed")


def replay(jobs: Jobs, job_ids: list[str] | None = None) -> list[str]:
    """Put failed jobs back on their queues (all of them when ``job_ids`` is None). Returns the ids replayed."""
    replayed = []
    wanted = set(job_ids) if job_ids is not None else None
    for queue in jobs.queues():
        registry = FailedJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            if wanted is None or job_id in wanted:
                registry.requeue(job_id)
                replayed.append(job_id)
    return replayed


def matching(jobs: Jobs, *, queue: str | None = None, since: datetime | None = None) -> list[FailedJob]:
    """The failed jobs of one queue and/or that failed at or after ``since``; an unknown queue is refused."""
    names = [q.name for q in jobs.queues()]
    if queue is not None and queue not in names:
        raise VhubError(f"There is no queue called '{queue}'. The queues are: {', '.join(names)}.", code="bad_queue")
    return [
        job
        for job in list_failed(jobs)
        if (queue is None or job.queue == queue) and (since is None or (job.failed_at and job.failed_at >= since))
    ]


_DURATION = re.compile(r"(\d{1,5})\s*(m|min|mins|minutes?|h|hours?|d|days?)")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_UK_MOMENT = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2}))?")


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: a duration back from now (``6h``, ``90m``, ``2d``) or a UK date, with or without a time
    (``01/12/2026 06:00``, London time)."""
    value = text.strip().lower()
    if found := _DURATION.fullmatch(value):
        amount, unit = int(found.group(1)), _UNITS[found.group(2)[0]]
        return now - timedelta(**{unit: amount})
    if found := _UK_MOMENT.fullmatch(value):
        day, month, year, hour, minute = (int(part) if part else 0 for part in found.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)
        except ValueError:
            pass
    raise VhubError(
        f"--since takes a time back from now, such as 6h, 90m or 2d, or a UK date and time, such as "
        f"01/12/2026 06:00 (London time); '{text}' is neither. Nothing was replayed.",
        code="bad_since",
    )


def record_replayed(session: Session, job_id: str, *, actor: str) -> None:
    record_event(
        session,
        actor=actor,
        action="job.replayed",
        entity_type="job",
        entity_id=job_id,
        before={"status": "failed"},
        after={"status": "queued"},
    )


def discard(jobs: Jobs, db: Database, job_id: str, *, reason: str, actor: str) -> str:
    """Remove a failed job for good, audited with who and why; returns what became of its work, in words.
    The job's work is first left where a person sees it (see the module's docstring)."""
    reason = " ".join(reason.split())
    if not reason:
        raise BusinessError(
            "Say why the job is being discarded: the reason is kept in the audit trail. Nothing was discarded.",
            code="reason_required",
        )
    registry = _registry_of(jobs, job_id) if JOB_ID.fullmatch(job_id) else None
    if registry is None:
        raise _unknown([job_id], "discarded")
    job = Job.fetch(job_id, connection=jobs.connection, serializer=SERIALIZER)
    try:
        function, args = job.func_name or "?", tuple(job.args)
    except DeserializationError:
        function, args = "?", ()
    if function in _NOT_DISCARDED:
        raise BusinessError(
            f"Job {job_id} ({function}) cannot be discarded: {_NOT_DISCARDED[function]}. Replay it once the cause "
            "is fixed; if it fails every time, give the developers the job id. Nothing was discarded.",
            code="not_discardable",
        )
    if function.startswith("tasks.") and function not in _DISCARDED:
        raise BusinessError(
            f"Job {job_id} ({function}) cannot be discarded: vhub cannot tell what of its work a person would then "
            "have to do. Replay it once the cause is fixed; if it fails every time, give the developers the job id. "
            "Nothing was discarded.",
            code="not_discardable",
        )
    if function == "tasks.submit.submit_draft" and args and jobs.running(function, args[0]):
        raise BusinessError(
            f"Draft #{args[0]} is being sent right now by another attempt. Wait a minute or two for it to end, then "
            "look again. Nothing was discarded.",
            code="being_sent",
        )
    with db.session() as session:
        outcome = _leave_for_a_person(session, jobs, function, args, actor=actor, reason=reason)
        record_event(
            session,
            actor=actor,
            action="job.discarded",
            entity_type="job",
            entity_id=job_id,
            before={"status": "failed", "queue": registry.name, "function": function, "error": _reason(job)},
            after={"status": "discarded", "reason": reason, "outcome": outcome},
        )
        # Removed before the audit commits: if Redis refuses, nothing is recorded and the job is still listed.
        registry.remove(job, delete_job=True)
    return outcome


def _leave_for_a_person(
    session: Session, jobs: Jobs, function: str, args: tuple[object, ...], *, actor: str, reason: str
) -> str:
    if function == "tasks.ingest.ingest":
        run_id, system_id, reference, last_modified = (str(arg) for arg in args)
        version = datetime.fromisoformat(last_modified)
        _version_discarded(session, jobs, run_id, reference, version)
        return _ingest_discarded(session, int(system_id), reference, version, actor)
    if function == "tasks.submit.submit_draft":
        return _send_discarded(session, int(str(args[0])), actor, reason)
    if function == "tasks.ingest.scan":
        run = session.get(RunRow, str(args[0]))
        if run is not None and run.finished_at is None:
            run.status, run.finished_at = "discarded", utcnow()
        return (
            "The run is marked discarded; the next scan reads from where the records system was last read, so no "
            "incident is missed."
        )
    if function == "tasks.isr.isr_scan":
        return "The next read of the ISR portal lists every open request again, so none is missed."
    if function in ("tasks.ingest.start_scan", "tasks.isr.start_isr_scan"):
        return "It only starts a scheduled run, and the next one starts on time: nothing was read by this one."
    return "It was not one of vhub's tasks (or could not be read), so it held no work of vhub's."


def _version_discarded(session: Session, jobs: Jobs, run_id: str, reference: str, version: datetime) -> None:
    """The scan item is done (the watermark may pass it); if it was the run's last to be read, as its ingest
    would have, hand the run to triage (queued in this transaction, like the ingest's own hand-over)."""
    item = session.scalars(
        select(ScanItemRow).where(
            ScanItemRow.run_id == run_id, ScanItemRow.reference == reference, ScanItemRow.last_modified == version
        )
    ).first()
    if item is None or item.status not in ("pending", "failed"):
        return
    finish_item(session, run_id, reference, version, "discarded")
    if hand_to_triage(session, run_id):
        jobs.enqueue("triage", "tasks.triage.triage_run", run_id, description=f"triage run {run_id}")


def _ingest_discarded(session: Session, system_id: int, reference: str, version: datetime, actor: str) -> str:
    if has_version(session, reference, version):
        return f"Incident {reference} was stored by a later attempt: nothing is missing."
    record_invalid(
        session,
        system="records_system",
        system_id=system_id,
        reference=reference,
        version=version,
        reasons=[
            f"The records system could not be read for incident {reference}, and {actor} discarded the job that "
            "read it (the audit trail says why). Check the incident in the records system and decide by hand what "
            "it needs, then resolve this item with a note."
        ],
        raw={},
        actor=actor,
    )
    return f"Incident {reference} is waiting in the review queue as a data-quality item for a person to check."


def _send_discarded(session: Session, draft_id: int, actor: str, reason: str) -> str:
    draft = session.get(DraftRow, draft_id)
    if draft is None:
        return f"Draft #{draft_id} no longer exists: nothing was waiting to be sent."
    if draft.status not in (DraftStatus.APPROVED, DraftStatus.SENDING):
        return f"Draft #{draft_id} is {draft.status.replace('_', ' ')}: nothing was waiting to be sent."
    submission = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).first()
    key = ""
    if submission is not None:
        # Kept with its key: if an earlier attempt did reach the portal, the next send finds it there.
        submission.status, submission.last_error = "withdrawn", f"Sending stopped by {actor}: {reason}"
        key = f" If it shows up in the partner's portal under key {submission.key}, it did arrive."
    draft.needs_attention = True
    draft.attention_reason = (
        f"Not sent: sending failed and {actor} stopped it ({reason}). Approve it again to send it, or reject it." + key
    )
    draft.claimed_by = draft.claimed_until = None
    move(
        session,
        draft,
        DraftStatus.AWAITING_REVIEW,
        actor=actor,
        action="draft.send_discarded",
        after={"reason": reason},
        new_content=True,  # the approvals that sent it before do not send it again
    )
    return f"Draft #{draft_id} was not sent: it is back in the review queue, marked for attention."
