"""Resolving data-quality items: check and change in one statement, so two people never both resolve one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from vhub.errors import BusinessError
from vhub.models import LONDON
from vhub.store.audit import record_event
from vhub.store.tables import DataQualityItemRow, utcnow


def already_resolved(item: DataQualityItemRow, now: datetime | None = None) -> str:
    """What the person who came second is told: who resolved the item, and when (London time)."""
    resolved_at = (item.resolved_at or utcnow()).astimezone(LONDON)
    today = (now or utcnow()).astimezone(LONDON).date()
    when = f"{resolved_at:%H:%M}" if resolved_at.date() == today else f"{resolved_at:%H:%M} on {resolved_at:%d/%m/%Y}"
    return (
        f"Item #{item.id} was already resolved by {item.resolved_by or 'someone else'} at {when}; nothing was changed."
    )


def resolve_item(session: Session, item_id: int, username: str, resolution: dict[str, Any]) -> None:
    """Resolve an open item in the caller's transaction, with its audit event.

    The status is checked by the UPDATE itself (``WHERE status = 'open'``), so of two people resolving at
    once exactly one changes the row; the other gets a BusinessError (code ``already_resolved``) saying who
    was first, and the caller's transaction writes nothing else."""
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(DataQualityItemRow)
            .where(DataQualityItemRow.id == item_id, DataQualityItemRow.status == "open")
            .values(status="resolved", resolved_at=utcnow(), resolved_by=username, resolution=resolution)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        row = session.get(DataQualityItemRow, item_id, populate_existing=True)
        if row is None:
            raise BusinessError(f"There is no data-quality item #{item_id}.", code="not_found")
        raise BusinessError(already_resolved(row), code="already_resolved")
    record_event(
        session,
        actor=username,
        action="data_quality.resolved",
        entity_type="data_quality_item",
        entity_id=str(item_id),
        before={"status": "open"},
        after={"status": "resolved", **resolution},
    )
