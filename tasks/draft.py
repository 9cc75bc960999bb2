"""One draft per action: rendered from its template, stored awaiting review, audited.

Idempotent by key (workflow, incident reference, subject, incident version): running it again for the
same version creates nothing; a newer version supersedes an older draft awaiting review.
"""

from __future__ import annotations

from datetime import datetime

from vhub import logs, redaction
from vhub.context import current
from vhub.drafting import load_drafting_config, render_draft
from vhub.models import Role
from vhub.store.drafts import dedupe_key, incident_row, load_triage, save_draft
from vhub.store.incidents import to_model
from vhub.store.tables import DraftRow
from vhub.triage import person_key

log = logs.get_logger(__name__)


def draft_action(reference: str, version: str, workflow: str, subject: str) -> str:
    """Draft the action ``workflow``/``subject`` that triage decided for this incident version."""
    ctx = current()
    moment = datetime.fromisoformat(version)
    logs.bind(step="draft", reference=reference, workflow=workflow)
    key = dedupe_key(workflow, reference, subject, moment)
    with ctx.db.session() as session:
        row = incident_row(session, reference, moment)
        result = load_triage(session, row.id) if row else None
        if row is None or result is None:
            log.warning("no triaged incident version to draft from")
            return "missing"
        action = next((a for a in result.actions if a.workflow.value == workflow and a.subject == subject), None)
        if action is None:
            log.warning("triage decided no such action")
            return "no_action"
        incident = to_model(row)
        redaction.remember_record(incident)
        content = render_draft(action, incident, result, load_drafting_config())
        subject_key = None
        if workflow == "marac":
            victim = next(p for p in incident.people if p.nominal_ref == subject and p.role is Role.victim)
            subject_key = person_key(victim, incident)
        draft, created = save_draft(
            session,
            DraftRow(
                dedupe_key=key,
                workflow=workflow,
                source_ref=reference,
                source_version=moment,
                incident_id=row.id,
                subject=subject,
                subject_key=subject_key,
                title=content.title,
                recipient=action.recipient.model_dump(mode="json"),
                recipient_name=action.recipient.name,
                authority=action.recipient.authority,
                policy=action.policy,
                risk=result.risk.value,
                priority=result.priority.value,
                deadline=action.deadline,
                reasons=list(result.reasons[:4]) + list(action.reasons),  # the level, its top indicators, the action
                payload=content.payload,
                text=content.text,
            ),
        )
    log.info("drafted" if created else "draft already exists", draft_id=draft.id, status=draft.status)
    return "created" if created else "exists"
