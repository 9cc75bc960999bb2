"""Reading the records system: a scan lists changed incidents, one ingest job stores each version.

Both jobs are idempotent. A scan that is retried re-queues what its run still has pending; an ingest
of a version already stored adds nothing; an invalid record becomes one data-quality item per version
(vhub/intake.py; the job succeeds: a person, not a retry, must fix it); the watermark moves only past
versions safely handled. The job that ends the run's reading (the last version done, or failed for good)
queues the run's triage, once.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any

from redis import Redis
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from bots.records_system import RecordsBot
from tasks.triage import queue_triage, triage_run
from vhub import logs
from vhub.context import current
from vhub.intake import Invalid, keep_invalid, read_valid
from vhub.models import validate_incident
from vhub.queues import NOT_RETRIED
from vhub.store.incidents import has_version, save_incident
from vhub.store.runs import (
    finish_item,
    get_watermark,
    hand_to_triage,
    record_found,
    set_item_job,
    start_run,
)
from vhub.store.tables import RunRow, ScanItemRow
from vhub.triage import load_config
from vhub.triage.blocking import blocked_by_invalid_record

SYSTEM = "records_system"
log = logs.get_logger(__name__)


def start_scan(kind: str = "scheduled") -> str:
    """Open a run and queue its scan (the scheduler's entry point). Returns the run id."""
    ctx = current()
    with ctx.db.session() as session:
        run_id = start_run(session, kind=kind, system=SYSTEM, changed_since=get_watermark(session, SYSTEM))
    ctx.jobs.enqueue("scan", scan, run_id, description=f"scan {SYSTEM} (run {run_id})")
    return run_id


def scan(run_id: str) -> dict[str, Any]:
    """List every incident version changed since the run's watermark and queue an ingest for each new one."""
    ctx = current()
    logs.bind(run_id=run_id, system=SYSTEM, step="scan")
    with ctx.db.session() as session:
        run = session.get_one(RunRow, run_id)
        already_listed = run.scanned_at is not None
        changed_since = run.changed_since
    if not already_listed:
        listed = RecordsBot(ctx.settings).list_changed_since(changed_since)
        with ctx.db.session() as session:
            record_found(session, run_id, SYSTEM, listed)
    with ctx.db.session() as session:
        pending = session.scalars(
            select(ScanItemRow).where(ScanItemRow.run_id == run_id, ScanItemRow.status == "pending")
        ).all()
        to_queue = []
        for item in pending:
            if has_version(session, item.reference, item.last_modified):
                finish_item(session, run_id, item.reference, item.last_modified, "unchanged")
            else:
                to_queue.append((item.system_id, item.reference, item.last_modified))
    for system_id, reference, last_modified in to_queue:
        job = ctx.jobs.enqueue(
            "ingest",
            ingest,
            run_id,
            system_id,
            reference,
            last_modified.isoformat(),
            description=f"ingest {reference}",
            on_failure=ingest_failed,
        )
        with ctx.db.session() as session:
            set_item_job(session, run_id, reference, last_modified, job.id)
    # Triage waits for the whole run, so repeat rules see every incident the run brings, in any order: the
    # ingest that ends the run's reading queues it. Here only when that has already happened, or nothing
    # was left to read.
    with ctx.db.session() as session:
        _hand_to_triage(session, run_id)
    log.info("scan complete", found=len(pending), queued=len(to_queue))
    return {"run_id": run_id, "pending": len(pending), "queued": len(to_queue)}


def ingest(run_id: str, system_id: int, reference: str, last_modified: str) -> str:
    """Read one incident version and store it; returns stored, unchanged or invalid."""
    ctx = current()
    listed_version = datetime.fromisoformat(last_modified)
    logs.bind(run_id=run_id, system=SYSTEM, step="ingest", reference=reference)
    with ctx.db.session() as session:
        held = has_version(session, reference, listed_version)
        late = held and _finish(session, run_id, reference, listed_version, "unchanged")
    if held:
        if late:
            queue_triage(reference, listed_version)
        return "unchanged"
    incident = read_valid(lambda: RecordsBot(ctx.settings).read_incident(system_id), validate_incident)
    if isinstance(incident, Invalid):
        return _keep_for_review(run_id, system_id, reference, listed_version, incident)
    with ctx.db.session() as session:
        outcome = save_incident(session, incident, source_system=SYSTEM)
        late = _finish(session, run_id, reference, listed_version, "stored" if outcome == "new" else "unchanged")
    if late:  # the run was already handed to triage (this job was replayed after failing): triage it now
        queue_triage(reference, incident.last_modified)
    log.info("incident ingested", outcome=outcome, version=incident.last_modified.isoformat())
    return "stored" if outcome == "new" else "unchanged"


def _keep_for_review(run_id: str, system_id: int, reference: str, version: datetime, invalid: Invalid) -> str:
    """A record a person must look at: kept as a data-quality item; the run goes on without it."""
    with current().db.session() as session:
        keep_invalid(
            session,
            invalid,
            system=SYSTEM,
            system_id=system_id,
            reference=reference,
            version=version,
            actor="ingest",
            blocked=partial(blocked_by_invalid_record, config=load_config()),
        )
        _finish(session, run_id, reference, version, "invalid")
    log.warning("record kept for review", reasons=invalid.reasons)
    return "invalid"


def ingest_failed(
    job: Job, connection: Redis, exc_type: type[BaseException], exc_value: BaseException, tb: TracebackType | None
) -> None:
    """rq calls this when an ingest job fails (or its worker died). Once it will not be retried, its version
    is marked failed, so the run's triage does not wait for it: the watermark still does, and a replay that
    stores it triages it on its own."""
    if job.should_retry and not isinstance(exc_value, NOT_RETRIED):
        return
    run_id, _system_id, reference, last_modified = job.args
    with current().db.session() as session:
        _finish(session, run_id, reference, datetime.fromisoformat(last_modified), "failed")
    log.warning("ingest failed for good", run_id=run_id, job_id=job.id)


def _finish(session: Session, run_id: str, reference: str, version: datetime, status: str) -> bool:
    """Record what became of one version; the one that ends the run's reading queues the run's triage.
    True when the run was handed to triage before this version was done (a replayed ingest)."""
    late = finish_item(session, run_id, reference, version, status)
    if not late:
        _hand_to_triage(session, run_id)
    return late


def _hand_to_triage(session: Session, run_id: str) -> None:
    # Queued inside the transaction that claims it: if the commit then fails, the job is retried and claims
    # again, and a second triage of the run adds nothing; queued after the commit, a crash would lose it.
    if hand_to_triage(session, run_id):
        current().jobs.enqueue("triage", triage_run, run_id, description=f"triage run {run_id}")
