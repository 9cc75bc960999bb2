"""Reading the records system: a scan lists changed incidents, one ingest job stores each version.

Both jobs are idempotent. A scan that is retried re-queues what its run still has pending; an ingest
of a version already stored adds nothing; an invalid record becomes one data-quality item per version
(vhub/intake.py; the job succeeds: a person, not a retry, must fix it); the watermark moves only past
versions safely handled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bots.records_system import RecordsBot
from tasks.triage import queue_triage, triage_run
from vhub import logs
from vhub.context import current
from vhub.intake import Invalid, keep_invalid, read_valid
from vhub.models import validate_incident
from vhub.store.incidents import has_version, save_incident
from vhub.store.runs import (
    finish_item,
    get_watermark,
    record_found,
    set_item_job,
    start_run,
)
from vhub.store.tables import RunRow, ScanItemRow

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
    ingest_jobs = []
    for system_id, reference, last_modified in to_queue:
        job = ctx.jobs.enqueue(
            "ingest", ingest, run_id, system_id, reference, last_modified.isoformat(), description=f"ingest {reference}"
        )
        ingest_jobs.append(job)
        with ctx.db.session() as session:
            set_item_job(session, run_id, reference, last_modified, job.id)
    # Triage waits for the whole run, so repeat rules see every incident the run brings, in any order.
    ctx.jobs.enqueue("triage", triage_run, run_id, after=ingest_jobs, description=f"triage run {run_id}")
    log.info("scan complete", found=len(pending), queued=len(to_queue))
    return {"run_id": run_id, "pending": len(pending), "queued": len(to_queue)}


def ingest(run_id: str, system_id: int, reference: str, last_modified: str) -> str:
    """Read one incident version and store it; returns stored, unchanged or invalid."""
    ctx = current()
    listed_version = datetime.fromisoformat(last_modified)
    logs.bind(run_id=run_id, system=SYSTEM, step="ingest", reference=reference)
    with ctx.db.session() as session:
        if has_version(session, reference, listed_version):
            finish_item(session, run_id, reference, listed_version, "unchanged")
            return "unchanged"
    incident = read_valid(lambda: RecordsBot(ctx.settings).read_incident(system_id), validate_incident)
    if isinstance(incident, Invalid):
        return _keep_for_review(run_id, system_id, reference, listed_version, incident)
    with ctx.db.session() as session:
        outcome = save_incident(session, incident, source_system=SYSTEM)
        finish_item(session, run_id, reference, listed_version, "stored" if outcome == "new" else "unchanged")
        late = session.get_one(RunRow, run_id).triage_queued_at is not None
    if late:  # the run was already handed to triage (this job was replayed after failing): triage it now
        queue_triage(reference, incident.last_modified)
    log.info("incident ingested", outcome=outcome, version=incident.last_modified.isoformat())
    return "stored" if outcome == "new" else "unchanged"


def _keep_for_review(run_id: str, system_id: int, reference: str, version: datetime, invalid: Invalid) -> str:
    """A record a person must look at: kept as a data-quality item; the run goes on without it."""
    with current().db.session() as session:
        keep_invalid(
            session, invalid, system=SYSTEM, system_id=system_id, reference=reference, version=version, actor="ingest"
        )
        finish_item(session, run_id, reference, version, "invalid")
    log.warning("record kept for review", reasons=invalid.reasons)
    return "invalid"
