"""Triage results and drafts in the store: each stored once per incident version, newer versions supersede.

A newer incident version replaces a draft still awaiting review (audited as superseded) and flags one
already approved or sent for a person's look; a draft for an older version arriving late is stored as
superseded at once, so the queue only ever shows the newest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vhub.store.audit import record_event
from vhub.store.draft_status import DraftStatus, change, move
from vhub.store.incidents import WHOLE
from vhub.store.tables import DraftRow, IncidentRow, TriageResultRow
from vhub.triage.model import TriageResult

REPLACEABLE = (DraftStatus.AWAITING_REVIEW, DraftStatus.RETURNED)  # not yet decided for good: a newer draft replaces it
LIVE_AFTER_REVIEW = (DraftStatus.APPROVED, DraftStatus.SENDING, DraftStatus.SENT)


def incident_row(session: Session, reference: str, version: datetime) -> IncidentRow | None:
    """One stored version with every part of it loaded (``to_model`` reads them all)."""
    return session.scalar(
        select(IncidentRow)
        .where(IncidentRow.reference == reference, IncidentRow.last_modified == version)
        .options(*WHOLE)
    )


def save_triage(session: Session, incident_id: int, result: TriageResult) -> Literal["new", "unchanged"]:
    """Store the triage of one incident version; a version already triaged is left as it is."""
    if session.scalar(select(TriageResultRow.id).where(TriageResultRow.incident_id == incident_id)) is not None:
        return "unchanged"
    try:
        with session.begin_nested():
            session.add(
                TriageResultRow(
                    incident_id=incident_id,
                    reference=result.reference,
                    version=result.version,
                    risk=result.risk.value,
                    score=result.score,
                    priority=result.priority.value,
                    policing_area=result.policing_area,
                    result=result.model_dump(mode="json"),
                )
            )
    except IntegrityError:
        return "unchanged"
    record_event(
        session,
        actor="triage",
        action="triage.decided",
        entity_type="incident",
        entity_id=result.reference,
        after={
            "version": result.version.isoformat(),
            "risk": result.risk.value,
            "score": result.score,
            "actions": [f"{a.workflow.value}:{a.subject}" for a in result.actions],
            "problems": [p.code for p in result.problems],
        },
    )
    return "new"


def drop_triage(session: Session, incident_id: int, *, actor: str) -> None:
    """Remove a version's triage so it can be decided again; the audit trail keeps what it was."""
    row = session.scalar(select(TriageResultRow).where(TriageResultRow.incident_id == incident_id))
    if row is not None:
        record_event(
            session,
            actor=actor,
            action="triage.replaced",
            entity_type="incident",
            entity_id=row.reference,
            before=row.result,
        )
        session.delete(row)
        session.flush()


def load_triage(session: Session, incident_id: int) -> TriageResult | None:
    row = session.scalar(select(TriageResultRow).where(TriageResultRow.incident_id == incident_id))
    return TriageResult.model_validate(row.result) if row else None


def dedupe_key(workflow: str, source_ref: str, subject: str, version: datetime | None) -> str:
    return f"{workflow}|{source_ref}|{subject}|{version.isoformat() if version else '-'}"


def save_draft(session: Session, draft: DraftRow, *, actor: str = "drafting") -> tuple[DraftRow, bool]:
    """Store a new draft unless its key exists; handle the drafts of other versions. Returns (row, created)."""
    existing = session.scalar(select(DraftRow).where(DraftRow.dedupe_key == draft.dedupe_key))
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            session.add(draft)
            session.flush()
    except IntegrityError:
        return session.scalars(select(DraftRow).where(DraftRow.dedupe_key == draft.dedupe_key)).one(), False
    record_event(
        session,
        actor=actor,
        action="draft.created",
        entity_type="draft",
        entity_id=str(draft.id),
        after={
            "workflow": draft.workflow,
            "source": draft.source_ref,
            "subject": draft.subject,
            "status": draft.status,
        },
    )
    _settle_lineage(session, draft, actor)
    return draft, True


def _settle_lineage(session: Session, draft: DraftRow, actor: str) -> None:
    if draft.source_version is None:
        return
    others = session.scalars(
        select(DraftRow).where(
            DraftRow.workflow == draft.workflow,
            DraftRow.source_ref == draft.source_ref,
            DraftRow.subject == draft.subject,
            DraftRow.id != draft.id,
        )
    ).all()
    for other in others:
        assert other.source_version is not None
        if other.source_version > draft.source_version:
            _supersede(session, draft, by=other, actor=actor)
        elif other.status in REPLACEABLE:
            _supersede(session, other, by=draft, actor=actor)
        elif other.status in LIVE_AFTER_REVIEW and not other.needs_attention:
            other.needs_attention = True
            other.attention_reason = (
                "The incident changed after this draft was approved: compare it with the newer draft "
                f"(#{draft.id}) and decide whether the partner must be told."
            )
            change(
                session,
                other,
                actor=actor,
                action="draft.flagged",
                before={"needs_attention": False},
                after={"needs_attention": True, "newer_draft": draft.id},
            )


def _supersede(session: Session, old: DraftRow, *, by: DraftRow, actor: str) -> None:
    if old.status == DraftStatus.SUPERSEDED:
        return
    old.superseded_by = by.id
    move(session, old, DraftStatus.SUPERSEDED, actor=actor, action="draft.superseded", after={"superseded_by": by.id})


def marac_referrals(session: Session, keys: list[str], *, exclude_reference: str) -> dict[str, list[datetime]]:
    """When each victim (by person key) was last referred to MARAC: the incident times of live MARAC drafts."""
    if not keys:
        return {}
    rows = session.execute(
        select(DraftRow.subject_key, IncidentRow.occurred_at)
        .join(IncidentRow, DraftRow.incident_id == IncidentRow.id)
        .where(
            DraftRow.workflow == "marac",
            DraftRow.subject_key.in_(keys),
            DraftRow.status.not_in(("rejected", "superseded")),
            DraftRow.source_ref != exclude_reference,
        )
    ).all()
    found: dict[str, list[datetime]] = {}
    for key, occurred_at in rows:
        if key is not None:
            found.setdefault(key, []).append(occurred_at)
    return found


def draft_summary(row: DraftRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "workflow": row.workflow,
        "source": row.source_ref,
        "subject": row.subject,
        "status": row.status,
        "priority": row.priority,
        "deadline": row.deadline.isoformat() if row.deadline else None,
    }
