"""Runs, the incident versions each scan found, the watermark, and data-quality items."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vhub.store.audit import record_event
from vhub.store.tables import DataQualityItemRow, RunRow, ScanItemRow, WatermarkRow, utcnow
from vhub.watermark import DONE, next_watermark


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


def finish_item(session: Session, run_id: str, reference: str, last_modified: datetime, status: str) -> None:
    """Record what became of one found version, then move the watermark as far as is safe."""
    item = _item(session, run_id, reference, last_modified)
    item.status = status
    session.flush()
    run = session.get_one(RunRow, run_id)
    items = session.execute(
        select(ScanItemRow.last_modified, ScanItemRow.status).where(ScanItemRow.run_id == run_id)
    ).all()
    advance_watermark(session, run.system, next_watermark([(when, state) for when, state in items], None))
    if all(state in DONE for _, state in items) and run.finished_at is None:
        run.status = "complete"
        run.finished_at = utcnow()


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
) -> bool:
    """Keep a record a person must look at (it failed validation, or triage could not decide something).
    False if it was already kept: the same version, or the same ``fingerprint`` (what was read) if given."""
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
        after={"reference": reference, "reasons": reasons},
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
