"""Runs, the incident versions each scan found, the watermark, and data-quality items."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vhub.store.audit import record_event
from vhub.store.tables import (
    AuditEventRow,
    DataQualityItemRow,
    DraftRow,
    IncidentRow,
    RunRow,
    ScanItemRow,
    TriageResultRow,
    WatermarkRow,
    utcnow,
)
from vhub.watermark import DONE, OPEN


@dataclass(frozen=True)
class ListedVersion:
    """An incident version as the records system's search lists it."""

    system_id: int
    reference: str
    last_modified: datetime


def start_run(session: Session, *, kind: str, system: str, changed_since: datetime | None) -> str:
    run_id = str(uuid.uuid4())
    session.add(RunRow(id=run_id, kind=kind, system=system, changed_since=changed_since))
    record_event(
        session,
        actor="scheduler",
        action="run.started",
        entity_type="run",
        entity_id=run_id,
        after={"kind": kind, "system": system},
    )
    return run_id


def record_found(session: Session, run_id: str, system: str, items: list[ListedVersion]) -> None:
    run = session.get_one(RunRow, run_id)
    run.found = len(items)
    run.scanned_at = utcnow()
    run.status = "ingesting" if items else "complete"
    if not items:
        run.finished_at = utcnow()
    for item in items:
        session.add(
            ScanItemRow(
                run_id=run_id,
                system=system,
                reference=item.reference,
                system_id=item.system_id,
                last_modified=item.last_modified,
            )
        )


def set_item_job(session: Session, run_id: str, reference: str, last_modified: datetime, job_id: str) -> None:
    item = _item(session, run_id, reference, last_modified)
    item.job_id = job_id


def _item(session: Session, run_id: str, reference: str, last_modified: datetime) -> ScanItemRow:
    return session.scalars(
        select(ScanItemRow).where(
            ScanItemRow.run_id == run_id,
            ScanItemRow.reference == reference,
            ScanItemRow.last_modified == last_modified,
        )
    ).one()


def finish_item(session: Session, run_id: str, reference: str, last_modified: datetime, status: str) -> bool:
    """Record what became of one found version, then move the watermark as far as is safe. A few indexed
    lookups, whatever the size of the run. ``failed`` (an ingest failed for good) never overwrites a version
    already handled. Returns whether the run was handed to triage before this version was done: a version
    stored after that must be triaged on its own."""
    # Finishes of one run take turns (a row lock on PostgreSQL; SQLite's write lock does it already), so of
    # two versions finishing at once the later sees the other done, and hand_to_triage cannot miss the last.
    run = session.get_one(RunRow, run_id, with_for_update=True)
    handed_over = run.triage_queued_at is not None
    item = _item(session, run_id, reference, last_modified)
    if status == "failed" and item.status in DONE:
        return handed_over
    item.status = status
    session.flush()
    open_from = _first_open(session, run_id)
    advance_watermark(session, run.system, _done_up_to(session, run_id, open_from))
    if open_from is None and run.finished_at is None:
        run.status = "complete"
        run.finished_at = utcnow()
    return handed_over


def hand_to_triage(session: Session, run_id: str) -> bool:
    """True for exactly one caller, once none of the run's versions is still waiting to be read (a version
    whose ingest failed for good does not hold triage back): that caller queues the run's triage."""
    if _first(session, run_id, "pending") is not None:
        return False
    claim = update(RunRow).where(RunRow.id == run_id, RunRow.triage_queued_at.is_(None))
    claimed = cast("CursorResult[Any]", session.execute(claim.values(triage_queued_at=utcnow())))
    return claimed.rowcount == 1


def _first(session: Session, run_id: str, status: str) -> datetime | None:
    """The earliest last-modified time of the run's versions in ``status`` (one seek in its index)."""
    return session.scalar(
        select(func.min(ScanItemRow.last_modified)).where(ScanItemRow.run_id == run_id, ScanItemRow.status == status)
    )


def _first_open(session: Session, run_id: str) -> datetime | None:
    """The earliest version of the run not yet safely handled, or None when every one is."""
    firsts = [moment for moment in (_first(session, run_id, status) for status in OPEN) if moment is not None]
    return min(firsts, default=None)


def _done_up_to(session: Session, run_id: str, open_from: datetime | None) -> datetime | None:
    """The newest version of the run before ``open_from`` (all of them when None): every one is done."""
    newest = []
    for status in DONE:
        query = select(func.max(ScanItemRow.last_modified)).where(
            ScanItemRow.run_id == run_id, ScanItemRow.status == status
        )
        if open_from is not None:
            query = query.where(ScanItemRow.last_modified < open_from)
        newest.append(session.scalar(query))
    return max((moment for moment in newest if moment is not None), default=None)


def get_watermark(session: Session, system: str) -> datetime | None:
    row = session.get(WatermarkRow, system)
    return row.value if row else None


def advance_watermark(session: Session, system: str, value: datetime | None) -> None:
    """Move the watermark forward to ``value``; never backwards."""
    if value is None:
        return
    row = session.scalars(select(WatermarkRow).where(WatermarkRow.system == system).with_for_update()).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(WatermarkRow(system=system, value=value))
        except IntegrityError:
            row = session.get_one(WatermarkRow, system)
        else:
            return
    if value > row.value:
        row.value = value
        row.updated_at = utcnow()


def run_progress(session: Session, run_id: str) -> dict[str, Any]:
    run = session.get_one(RunRow, run_id)
    rows = session.execute(
        select(ScanItemRow.status, func.count()).where(ScanItemRow.run_id == run_id).group_by(ScanItemRow.status)
    ).all()
    counts = Counter({status: number for status, number in rows})
    return {
        "status": run.status,
        "found": run.found,
        "counts": dict(counts),
        "done": sum(counts[state] for state in DONE),
    }


def record_invalid(
    session: Session,
    *,
    system: str,
    system_id: int,
    reference: str | None,
    version: datetime,
    reasons: list[str],
    raw: dict[str, Any],
    actor: str = "ingest",
    fingerprint: str | None = None,
    deadline: datetime | None = None,
    blocks: str | None = None,
) -> bool:
    """Keep a record a person must look at (it failed validation, or triage could not decide something).
    False if it was already kept: the same version, or the same ``fingerprint`` (what was read) if given.
    ``deadline`` and ``blocks``: when the action it holds up is due, and that action in plain words."""
    same = DataQualityItemRow.version == version
    if fingerprint is not None:
        same = or_(same, DataQualityItemRow.fingerprint == fingerprint)
    exists = session.scalar(
        select(DataQualityItemRow.id).where(
            DataQualityItemRow.source_system == system, DataQualityItemRow.system_id == system_id, same
        )
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            row = DataQualityItemRow(
                source_system=system,
                system_id=system_id,
                reference=reference,
                version=version,
                reasons=reasons,
                raw=raw,
                fingerprint=fingerprint,
                deadline=deadline,
                blocks=blocks,
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    record_event(
        session,
        actor=actor,
        action="data_quality.raised",
        entity_type="data_quality_item",
        entity_id=str(row.id),
        after={"reference": reference, "reasons": reasons, "deadline": deadline.isoformat() if deadline else None},
    )
    return True


def open_data_quality_items(session: Session) -> list[DataQualityItemRow]:
    return list(
        session.scalars(
            select(DataQualityItemRow)
            .where(DataQualityItemRow.status == "open")
            .order_by(DataQualityItemRow.created_at)
        )
    )


def triage_corrections(session: Session, system_id: int, version: datetime) -> dict[str, Any]:
    """What people corrected for triage of one incident version (resolved triage data-quality items)."""
    rows = session.scalars(
        select(DataQualityItemRow).where(
            DataQualityItemRow.source_system == "triage",
            DataQualityItemRow.system_id == system_id,
            DataQualityItemRow.version == version,
            DataQualityItemRow.status == "resolved",
        )
    ).all()
    corrections: dict[str, Any] = {}
    for row in rows:
        corrections.update((row.resolution or {}).get("corrections", {}))
    return corrections


def finish_run(session: Session, run_id: str, *, found: int, counts: dict[str, Any], status: str = "complete") -> None:
    """Close a run that is one job (a check, a report): how many it looked at and what it did, audited."""
    run = session.get_one(RunRow, run_id)
    run.found, run.status, run.finished_at = found, status, utcnow()
    record_event(session, actor="scheduler", action="run.finished", entity_type="run", entity_id=run_id, after=counts)


def run_counts(session: Session, run_id: str) -> dict[str, Any]:
    """What a one-job run recorded when it finished (empty while it runs, and for a scan)."""
    after = session.scalar(
        select(AuditEventRow.after)
        .where(AuditEventRow.entity_type == "run", AuditEventRow.entity_id == run_id)
        .where(AuditEventRow.action == "run.finished")
        .order_by(AuditEventRow.id.desc())
        .limit(1)
    )
    return dict(after or {})


@dataclass(frozen=True)
class RunRecord:
    """A run as an admin reads it: when, what it did at each stage, what failed, what is at risk."""

    id: str
    kind: str
    system: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    stages: dict[str, Any]
    failures: int
    at_risk: list[tuple[int, str, str, datetime]]  # draft id, kind, reference, deadline


def recent_runs(session: Session, limit: int = 20) -> list[RunRow]:
    return list(session.scalars(select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id).limit(limit)))


def run_record(session: Session, run_id: str, *, now: datetime, at_risk_within: float = 4.0) -> RunRecord | None:
    """The run ``run_id`` (or the one run whose id starts with it), with its counts per stage. A scan's stages are
    read from its versions: listed, read (stored, unchanged, invalid, failed, waiting), triaged, drafted (by
    status); a one-job run's (a check, a report) are what it recorded. ``at_risk_within``: hours before a deadline
    that a draft not yet sent counts as at risk (past deadlines too)."""
    run = session.get(RunRow, run_id)
    if run is None:
        matches = list(session.scalars(select(RunRow).where(RunRow.id.like(f"{run_id}%")).limit(2)))
        run = matches[0] if len(matches) == 1 else None
    if run is None:
        return None
    if run.kind in ("encompass_check", "morning_report"):
        counts = run_counts(session, run.id)
        return RunRecord(run.id, run.kind, run.system, run.status, run.started_at, run.finished_at, counts, 0, [])
    read = dict(
        session.execute(
            select(ScanItemRow.status, func.count()).where(ScanItemRow.run_id == run.id).group_by(ScanItemRow.status)
        ).all()
    )
    incidents = (
        select(IncidentRow.id)
        .join(
            ScanItemRow,
            (ScanItemRow.reference == IncidentRow.reference) & (ScanItemRow.last_modified == IncidentRow.last_modified),
        )
        .where(ScanItemRow.run_id == run.id)
    )
    triaged = session.scalar(select(func.count(TriageResultRow.id)).where(TriageResultRow.incident_id.in_(incidents)))
    drafted = dict(
        session.execute(
            select(DraftRow.status, func.count()).where(DraftRow.incident_id.in_(incidents)).group_by(DraftRow.status)
        ).all()
    )
    risky = session.execute(
        select(DraftRow.id, DraftRow.workflow, DraftRow.source_ref, DraftRow.deadline)
        .where(DraftRow.incident_id.in_(incidents))
        .where(DraftRow.status.in_(("awaiting_review", "returned", "approved", "sending")))
        .where(DraftRow.deadline <= now + timedelta(hours=at_risk_within))
        .order_by(DraftRow.deadline, DraftRow.id)
    ).all()
    stages = {"listed": run.found, "read": read, "triaged": triaged or 0, "drafted": drafted}
    at_risk = [(row.id, row.workflow, row.source_ref, row.deadline) for row in risky]
    return RunRecord(
        run.id,
        run.kind,
        run.system,
        run.status,
        run.started_at,
        run.finished_at,
        stages,
        read.get("failed", 0),
        at_risk,
    )
