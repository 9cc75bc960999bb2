"""The Operation Encompass check before school: what is due today is sent, and what is not approved is escalated.

Every approved notice due today (its school's deadline falls on the UK day the check is for) that is not
already being sent, sent, or held by a paused portal is queued for submission, once (the submission itself is
sent once whatever is queued: tasks/submit.py). Every notice due today that no one has approved yet goes to the
duty sergeant's channel by school and deadline, with its draft and incident references and nothing about the
child; a notice escalated once is not escalated again by a second check that day. The check is a run
(`vhub runs show`) and is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tasks.submit import queue_submission
from vhub import logs
from vhub.alerts import Alert, send, webhook_url
from vhub.clock import day_bounds, moment, uk_day, uk_time
from vhub.context import current
from vhub.errors import ApplicationError
from vhub.portals import portal_for
from vhub.store.audit import record_event
from vhub.store.draft_status import DraftStatus
from vhub.store.runs import finish_run, start_run
from vhub.store.tables import DraftRow, SubmissionRow

log = logs.get_logger(__name__)

KIND = "encompass_check"
NOT_APPROVED = (DraftStatus.AWAITING_REVIEW, DraftStatus.RETURNED)
CLAIM_TTL_S = 3 * 86400
_QUEUED = "vhub:encompass:queued:{}:{}"  # day, draft id
_ESCALATED = "vhub:encompass:escalated:{}:{}"


def check_encompass(at: str | None = None) -> dict[str, Any]:
    """Send what is approved and due today; escalate what is due today and not approved. Returns the counts."""
    ctx = current()
    when = moment(at)
    day = uk_day(when)
    start, end = day_bounds(day)
    with ctx.db.session() as session:
        run_id = start_run(session, kind=KIND, system="school_portal", changed_since=None)
    logs.bind(run_id=run_id, step=KIND)
    with ctx.db.session(read_only=True) as session:
        rows = session.execute(
            select(DraftRow, SubmissionRow.status)
            .outerjoin(SubmissionRow, SubmissionRow.draft_id == DraftRow.id)
            .where(DraftRow.workflow == "encompass", DraftRow.deadline >= start, DraftRow.deadline < end)
            .where(DraftRow.status.not_in((DraftStatus.SUPERSEDED, DraftStatus.REJECTED)))
            .order_by(DraftRow.deadline, DraftRow.recipient_name, DraftRow.id)
        ).all()
        due = [
            (
                draft.id,
                draft.status,
                sent_status,
                draft.recipient_name,
                draft.deadline,
                draft.source_ref,
                draft.recipient,
            )
            for draft, sent_status in rows
        ]
    connection = ctx.jobs.connection
    counts = {"due_today": len(due), "sent": 0, "sending": 0, "queued_now": 0, "held_portal_paused": 0}
    unapproved: list[tuple[int, str, Any, str]] = []
    queued: list[int] = []
    for draft_id, status, sent_status, school, deadline, reference, recipient in due:
        if status == DraftStatus.SENT:
            counts["sent"] += 1
        elif status in NOT_APPROVED:
            if connection.set(_ESCALATED.format(day, draft_id), run_id, nx=True, ex=CLAIM_TTL_S):
                unapproved.append((draft_id, school, deadline, reference))
        elif sent_status == "paused":
            counts["held_portal_paused"] += 1
        elif sent_status in ("sending", "sent") or status == DraftStatus.SENDING:
            counts["sending"] += 1
        elif connection.set(_QUEUED.format(day, draft_id), run_id, nx=True, ex=CLAIM_TTL_S):
            try:
                queue_submission(draft_id, portal_for("encompass", recipient))
            except BaseException:
                connection.delete(_QUEUED.format(day, draft_id))  # not queued: the retry must try it again
                raise
            queued.append(draft_id)
        else:
            counts["sending"] += 1  # queued by an earlier check today: on its way
    counts["queued_now"] = len(queued)
    counts["not_approved"] = sum(1 for _, status, *_ in due if status in NOT_APPROVED)
    counts["escalated_now"] = len(unapproved)
    if unapproved and not _escalate(day, unapproved, counts):
        for draft_id, *_ in unapproved:  # not told: the retry (or the next check) escalates them again
            connection.delete(_ESCALATED.format(day, draft_id))
        with ctx.db.session() as session:
            finish_run(session, run_id, found=len(due), counts=counts, status="failed")
        raise ApplicationError(
            f"The duty sergeant's Teams channel did not take the Operation Encompass escalation "
            f"({len(unapproved)} notice(s) due today not approved); the check will try again.",
            code="alert_not_delivered",
        )
    with ctx.db.session() as session:
        record_event(
            session,
            actor="scheduler",
            action="encompass.checked",
            entity_type="check",
            entity_id=f"{KIND}:{day.isoformat()}",
            after={**counts, "queued_drafts": queued, "escalated_drafts": [item[0] for item in unapproved]},
        )
        finish_run(session, run_id, found=len(due), counts=counts)
    log.info("encompass check done", **counts)
    return {"run_id": run_id, **counts}


def _escalate(day: Any, unapproved: list[tuple[int, str, Any, str]], counts: dict[str, int]) -> bool:
    """One card to the duty sergeant: each notice by school and deadline, with its references. False if the
    channel is set and did not take it (no channel set: logged and audited only, as the settings say)."""
    ctx = current()
    alert = Alert(
        title=f"Operation Encompass: {len(unapproved)} notice(s) due today not approved",
        facts={
            "Day": f"{day:%A %d/%m/%Y}",
            "Due today": counts["due_today"],
            "Not approved (new in this alert)": len(unapproved),
            "Sent or being sent": counts["sent"] + counts["sending"] + counts["queued_now"],
        },
        lines=tuple(
            f"{school}: due {uk_time(deadline)} (draft #{draft_id}, incident {reference})"
            for draft_id, school, deadline, reference in unapproved
        )
        + ("Approve them in the review app (Operation Encompass, soonest deadline first) before school starts.",),
        channel="duty",
    )
    delivered = send(ctx.settings, ctx.db, alert, subject=f"{KIND}:{day.isoformat()}")
    return delivered or not webhook_url(ctx.settings, "duty").strip()
