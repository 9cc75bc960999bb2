"""Posting an approved draft to its partner, exactly once, and recording the partner's reference.

The submission key is fixed the first time (one row per draft); the bot searches the portal for it
before submitting, so a retry after a lost confirmation, a 5xx or a killed worker finds the earlier
submission instead of making a second. Status and reference are stored in one transaction. A partner
refusing the data sends the draft back to review with the partner's message (not retried). Selector
drift pauses the portal and raises an alert; the draft waits for `vhub portals resume`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bots.registry import submission_bot
from bots.submission import DraftNotSendable, PartnerRejected, Submission, submission_key
from vhub import logs, portals, redaction
from vhub.alerts import raise_alert
from vhub.context import AppContext, current
from vhub.errors import SelectorDrift
from vhub.store.audit import record_event
from vhub.store.draft_status import DraftStatus, approvals_needed, approvers, move
from vhub.store.tables import DraftRow, SubmissionRow, utcnow

log = logs.get_logger(__name__)


def _prepare(draft_id: int) -> tuple[Submission, str] | str:
    """Mark the draft as being sent and fix its submission key; or say why there is nothing to send.

    Only the version the required people approved is sent: an approved draft whose approvals do not cover its
    current content goes back to review instead."""
    ctx = current()
    with ctx.db.session() as session:
        draft = session.scalars(select(DraftRow).where(DraftRow.id == draft_id).with_for_update()).first()
        if draft is None:
            return "missing"
        if draft.status == DraftStatus.SENT:
            return "already sent"
        if draft.status not in (DraftStatus.APPROVED, DraftStatus.SENDING):
            return f"not approved ({draft.status})"
        given = approvers(session, draft)
        needed = approvals_needed(draft, second_approver_for_red=ctx.settings.review_second_approver_for_red)
        if len(given) < needed:
            draft.needs_attention = True
            draft.attention_reason = (
                f"Not sent: this version has {len(given)} of the {needed} approvals it needs. Review and approve it."
            )
            move(
                session,
                draft,
                DraftStatus.AWAITING_REVIEW,
                actor="submit",
                action="draft.approval_missing",
                after={"approvals": len(given), "needed": needed, "content_version": draft.content_version},
            )
            log.error("approved draft lacks the approvals of its version; back to review", needed=needed)
            return "not approved in this version"
        portal = portals.portal_for(draft.workflow, draft.recipient)
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).first()
        if row is None:
            row = SubmissionRow(
                draft_id=draft_id, portal=portal, key=submission_key(draft_id, draft.dedupe_key), attempts=0
            )
            session.add(row)
        row.attempts += 1
        row.status = "sending"
        if draft.status != DraftStatus.SENDING:
            move(
                session,
                draft,
                DraftStatus.SENDING,
                actor="submit",
                action="draft.sending",
                after={"portal": portal, "key": row.key, "content_version": draft.content_version},
            )
        submission = Submission(
            draft_id=draft_id,
            key=row.key,
            workflow=draft.workflow,
            recipient=draft.recipient,
            payload=draft.payload,
            text=draft.text,
            source_ref=draft.source_ref,
            extra={"policy": draft.policy},
        )
        return submission, portal


def submit_draft(draft_id: int) -> dict[str, Any]:
    """Deliver one approved draft to its partner's portal (exactly once) and store the reference."""
    ctx = current()
    logs.bind(step="submit", draft_id=draft_id)
    prepared = _prepare(draft_id)
    if isinstance(prepared, str):
        log.info("nothing to submit", why=prepared)
        return {"draft_id": draft_id, "outcome": prepared}
    submission, portal = prepared
    redaction.remember_record(submission.payload)
    logs.bind(system=portal)
    if reason := portals.paused(ctx.jobs.connection, portal):
        _set_status(draft_id, "paused", f"The {portal} portal is paused: {reason}")
        log.warning("portal paused; submission waits", portal=portal)
        return {"draft_id": draft_id, "outcome": "paused"}
    bot = submission_bot(ctx.settings, portal, submission.recipient)
    try:
        reference, submitted_now = bot.deliver(submission)
    except DraftNotSendable as error:
        _back_to_review(draft_id, portal, error.partner_message, not_sent=True)
        return {"draft_id": draft_id, "outcome": "not sendable as drafted"}
    except PartnerRejected as error:
        _back_to_review(draft_id, portal, error.partner_message)
        return {"draft_id": draft_id, "outcome": "rejected by partner"}
    except SelectorDrift as error:
        _drift(draft_id, portal, error)
        return {"draft_id": draft_id, "outcome": "paused"}
    with ctx.db.session() as session:
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).one()
        draft = session.get_one(DraftRow, draft_id)
        row.status, row.partner_reference, row.sent_at, row.last_error = "sent", reference, utcnow(), None
        move(
            session,
            draft,
            DraftStatus.SENT,
            actor="submit",
            action="draft.sent",
            after={
                "portal": portal,
                "partner_reference": reference,
                "found_already_submitted": not submitted_now,
                "content_version": draft.content_version,
            },
        )
    log.info("submitted", portal=portal, reference=reference, found_already_submitted=not submitted_now)
    return {"draft_id": draft_id, "outcome": "sent", "reference": reference}


def _set_status(draft_id: int, status: str, error: str | None) -> None:
    with current().db.session() as session:
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).one()
        row.status, row.last_error = status, error


def _back_to_review(draft_id: int, portal: str, message: str, *, not_sent: bool = False) -> None:
    """The partner refused the data, or its form cannot hold the draft as it stands (``not_sent``: the bot
    stopped before posting): back to the review queue, with the partner's words or the bot's reason."""
    with current().db.session() as session:
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).one()
        draft = session.get_one(DraftRow, draft_id)
        row.status, row.last_error = "rejected", message
        draft.needs_attention = True
        draft.attention_reason = (
            f"Not sent: {message} Decide what the partner should be told (or send it by hand), then approve again."
            if not_sent
            else f"The partner ({portal}) refused it: {message} Correct the draft and approve it again."
        )
        # A new version to approve: the approvals that sent the refused one do not send the next.
        move(
            session,
            draft,
            DraftStatus.AWAITING_REVIEW,
            actor="submit",
            action="draft.not_sendable" if not_sent else "draft.refused_by_partner",
            after={"portal": portal, "partner_message": message},
            new_content=True,
        )
    log.warning("submission refused or not sendable as drafted; back to review", portal=portal, not_sent=not_sent)


def _drift(draft_id: int, portal: str, error: SelectorDrift) -> None:
    """The portal's pages changed: pause it (not just this draft), alert, keep the draft waiting."""
    ctx = current()
    _set_status(draft_id, "paused", error.message)
    if portals.pause(ctx.jobs.connection, portal, error.message):
        raise_alert(
            ctx.settings, ctx.db, f"Portal {portal} paused: its pages have changed", error.message, subject=portal
        )


def resume_portal(portal: str, *, actor: str = "vhub", ctx: AppContext | None = None) -> int:
    """Un-pause a portal and queue again every submission that waited for it; returns how many. ``actor``: who
    resumed it, for the audit trail; ``ctx``: the caller's own (the review app's), else the process's."""
    ctx = ctx or current()
    portals.resume(ctx.jobs.connection, portal)
    with ctx.db.session() as session:
        waiting = list(
            session.scalars(
                select(SubmissionRow.draft_id).where(SubmissionRow.portal == portal, SubmissionRow.status == "paused")
            )
        )
        record_event(
            session,
            actor=actor,
            action="portal.resumed",
            entity_type="portal",
            entity_id=portal,
            after={"requeued": len(waiting)},
        )
    for draft_id in waiting:
        queue_submission(draft_id, portal, ctx=ctx)
    return len(waiting)


def queue_submission(draft_id: int, portal: str, *, ctx: AppContext | None = None) -> None:
    (ctx or current()).jobs.enqueue(
        "submit", submit_draft, draft_id, rate_limit_key=portal, description=f"submit draft {draft_id} to {portal}"
    )
