"""Triage of a stored incident version, then one draft job per action on the queue of its priority.

Idempotent: a version already triaged is not triaged again (its stored result is used to make sure
every draft job exists); problems a person must solve become one data-quality item per version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from tasks.draft import draft_action
from vhub import logs, redaction
from vhub.context import current
from vhub.corrections import apply_to_incident
from vhub.cra_audit import cra_rubric
from vhub.models import Role
from vhub.store.cra_scores import save_cra_scores
from vhub.store.drafts import drop_triage, incident_row, load_triage, marac_referrals, save_triage
from vhub.store.incidents import to_model
from vhub.store.runs import record_invalid, triage_corrections
from vhub.store.tables import IncidentRow, RunRow, ScanItemRow, TriageResultRow, utcnow
from vhub.triage import load_config, load_history, person_key, triage
from vhub.triage.blocking import blocked_by_problems

log = logs.get_logger(__name__)


def queue_triage(reference: str, version: datetime) -> None:
    current().jobs.enqueue("triage", triage_incident, reference, version.isoformat(), description=f"triage {reference}")


def triage_run(run_id: str) -> dict[str, Any]:
    """Once none of a run's versions is still waiting to be read (queued by the ingest that ended it): triage
    the latest version of every incident it found, oldest incident first. Idempotent: versions already
    triaged are skipped."""
    ctx = current()
    logs.bind(run_id=run_id, step="triage run")
    with ctx.db.session() as session:
        # Waits for the transaction that handed the run over (it queues this job before it commits), so the
        # last version read is seen here.
        run = session.get_one(RunRow, run_id, with_for_update=True)
        if run.triage_queued_at is None:
            run.triage_queued_at = utcnow()
        references = select(ScanItemRow.reference).where(ScanItemRow.run_id == run_id).distinct()
        rows = session.execute(
            select(IncidentRow.reference, IncidentRow.last_modified)
            .where(IncidentRow.reference.in_(references), IncidentRow.is_latest.is_(True))
            .where(~select(TriageResultRow.id).where(TriageResultRow.incident_id == IncidentRow.id).exists())
            .order_by(IncidentRow.occurred_at)
        ).all()
    for reference, version in rows:
        queue_triage(reference, version)
    log.info("run handed to triage", incidents=len(rows))
    return {"run_id": run_id, "queued": len(rows)}


def triage_incident(reference: str, version: str, replace: bool = False) -> dict[str, Any]:
    """Triage one stored incident version and queue its drafts (only for the latest version).

    ``replace``: triage again although it was triaged (a person corrected what triage could not decide);
    the earlier result is kept in the audit trail."""
    ctx = current()
    moment = datetime.fromisoformat(version)
    logs.bind(step="triage", reference=reference)
    config = load_config()
    rubric = cra_rubric()
    with ctx.db.session() as session:
        row = incident_row(session, reference, moment)
        if row is None:
            log.warning("incident version not stored; nothing to triage")
            return {"reference": reference, "outcome": "missing"}
        stored = to_model(row)
        redaction.remember_record(stored)
        latest = row.is_latest
        result = load_triage(session, row.id)
        if result is not None and replace:
            drop_triage(session, row.id, actor="triage")
            result = None
        if result is None:
            incident = apply_to_incident(stored, triage_corrections(session, row.system_id, moment))
            victims = [person_key(p, incident) for p in incident.people if p.role is Role.victim]
            history = load_history(session, incident, marac_referrals(session, victims, exclude_reference=reference))
            result = triage(incident, history, config, now=utcnow())
            save_triage(session, row.id, result)
            # The child risk assessment audit scores the version as triage saw it (ages and corrections applied).
            save_cra_scores(session, row.id, incident, result.missing_cras, result.policing_area, rubric)
            if result.problems and not replace:
                blocked = blocked_by_problems(incident, result, config)
                record_invalid(
                    session,
                    system="triage",
                    system_id=row.system_id,
                    reference=reference,
                    version=moment,
                    reasons=[problem.message for problem in result.problems],
                    raw={"problems": [problem.model_dump(mode="json") for problem in result.problems]},
                    actor="triage",
                    deadline=blocked.deadline,
                    blocks=blocked.what,
                )
    if latest:
        for action in result.actions:
            ctx.jobs.enqueue(
                "draft",
                draft_action,
                reference,
                version,
                action.workflow.value,
                action.subject,
                queue=result.priority.value,
                description=f"draft {action.workflow.value} for {reference}",
            )
    log.info("triaged", risk=result.risk.value, actions=len(result.actions), problems=len(result.problems))
    return {"reference": reference, "risk": result.risk.value, "actions": len(result.actions) if latest else 0}
