"""Storing the child risk assessment audit's scores of one incident version, and reading them back.

A version's scores are written whole, replacing any earlier ones (triaging a version again after a correction
scores it again), so reports and pages read them as stored and never score again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vhub.cra_audit import Rubric, score
from vhub.models import Incident
from vhub.store.tables import CraScoreRow


@dataclass(frozen=True)
class StoredScore:
    """One child's line of the audit, as the draft page shows it."""

    nominal_ref: str
    assessed: bool
    score: int | None
    lacking: list[dict[str, Any]]
    area: str | None
    team: str | None


def save_cra_scores(
    session: Session,
    incident_id: int,
    incident: Incident,
    missing: tuple[str, ...] | list[str],
    policing_area: str | None,
    rubric: Rubric,
) -> int:
    """Score every assessment of the stored version ``incident_id`` and record each child in ``missing`` (linked,
    with no assessment) unscored. An assessment names its officer's area, else the incident's ``policing_area`` is
    the one to follow it up. Returns how many rows were written."""
    session.execute(delete(CraScoreRow).where(CraScoreRow.incident_id == incident_id))
    rows = []
    for cra in incident.child_risk_assessments:
        result = score(cra, incident, rubric)
        rows.append(
            CraScoreRow(
                incident_id=incident_id,
                reference=incident.reference,
                occurred_at=incident.occurred_at,
                nominal_ref=cra.nominal_ref,
                assessed=True,
                score=result.score,
                lacking=result.as_json(),
                area=cra.area or policing_area,
                team=cra.team,
            )
        )
    rows += [
        CraScoreRow(
            incident_id=incident_id,
            reference=incident.reference,
            occurred_at=incident.occurred_at,
            nominal_ref=nominal_ref,
            assessed=False,
            score=None,
            lacking=[],
            area=policing_area,
            team=None,
        )
        for nominal_ref in missing
    ]
    session.add_all(rows)
    return len(rows)


def scores_of(session: Session, incident_id: int) -> dict[str, StoredScore]:
    """The stored scores of one incident version by child's nominal reference (an assessed one before a missing
    one, should a record hold both for a child)."""
    rows = session.scalars(
        select(CraScoreRow).where(CraScoreRow.incident_id == incident_id).order_by(CraScoreRow.id.desc())
    ).all()
    return {
        row.nominal_ref: StoredScore(row.nominal_ref, row.assessed, row.score, list(row.lacking), row.area, row.team)
        for row in rows
    }
