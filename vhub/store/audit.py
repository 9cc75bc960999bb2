"""The append-only audit trail: who did what, when, to which record, with before and after."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.orm import Session

from vhub.store.tables import AuditEventRow


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEventRow:
    """Add an audit event to the current transaction; run and job ids come from the log context."""
    context = structlog.contextvars.get_contextvars()
    event = AuditEventRow(
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        run_id=context.get("run_id"),
        job_id=context.get("job_id"),
        before=before,
        after=after,
    )
    session.add(event)
    return event
