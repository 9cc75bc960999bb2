"""What a reviewer does to a draft: claim it, edit it, approve, reject or return it.

Every change names the version of the draft it was made on; a change to a version that is no longer
current is refused (two people can never both approve, or overwrite each other's edits). Opening a
draft claims it for a few minutes. Red-risk drafts can need two different approvers. Approval queues
the submission inside the same transaction: if the job cannot be queued, the approval is not stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub.errors import BusinessError
from vhub.portals import portal_for
from vhub.queues import Jobs
from vhub.review.accounts import User
from vhub.store.audit import record_event
from vhub.store.tables import DecisionRow, DraftRow, UserRow

SUBMIT_JOB = "tasks.submit.submit_draft"


class Conflict(BusinessError):
    """The draft changed (or was decided) since the person opened it."""

    code = "conflict"


class ClaimedByOther(BusinessError):
    code = "claimed"


def _name(session: Session, user_id: int | None) -> str:
    if user_id is None:
        return "nobody"
    return session.scalar(select(UserRow.display_name).where(UserRow.id == user_id)) or "another reviewer"


def claim(session: Session, draft: DraftRow, user: User, *, now: datetime, minutes: float) -> str | None:
    """Claim a draft for ``user`` unless someone else holds a live claim; returns that person's name if so."""
    if draft.claimed_by not in (None, user.id) and draft.claimed_until and draft.claimed_until > now:
        return _name(session, draft.claimed_by)
    if draft.status == "awaiting_review" and draft.first_approver != user.id:  # a first approver cannot finish it
        draft.claimed_by = user.id
        draft.claimed_until = now + timedelta(minutes=minutes)
    return None


def _for_change(session: Session, draft_id: int, user: User, row_version: int, *, now: datetime) -> DraftRow:
    draft = session.scalars(select(DraftRow).where(DraftRow.id == draft_id).with_for_update()).first()
    if draft is None:
        raise BusinessError(f"There is no draft #{draft_id}.", code="not_found")
    if draft.row_version != row_version:
        raise Conflict(
            f"Draft #{draft_id} changed while you had it open (it is now {draft.status.replace('_', ' ')}). "
            "Your change was not saved: open the draft again to see the latest version."
        )
    if draft.status != "awaiting_review":
        raise Conflict(f"Draft #{draft_id} is already {draft.status.replace('_', ' ')}; nothing was changed.")
    if draft.claimed_by not in (None, user.id) and draft.claimed_until and draft.claimed_until > now:
        raise ClaimedByOther(
            f"{_name(session, draft.claimed_by)} is reviewing draft #{draft_id} until "
            f"{draft.claimed_until:%H:%M} UTC. Try again after that, or ask them."
        )
    return draft


def _decide(
    session: Session,
    draft: DraftRow,
    user: User,
    decision: str,
    reason: str | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    session.add(
        DecisionRow(draft_id=draft.id, user_id=user.id, decision=decision, reason=reason, row_version=draft.row_version)
    )
    draft.row_version += 1
    record_event(
        session,
        actor=user.username,
        action=f"draft.{decision}",
        entity_type="draft",
        entity_id=str(draft.id),
        before=before,
        after={**after, "reason": reason} if reason else after,
    )


def save_edits(
    session: Session,
    draft_id: int,
    user: User,
    row_version: int,
    *,
    now: datetime,
    payload: dict[str, Any] | None = None,
    text: str | None = None,
) -> DraftRow:
    """Store a reviewer's edits; the audit event holds the value of every changed field before and after."""
    draft = _for_change(session, draft_id, user, row_version, now=now)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if payload is not None and payload != draft.payload:
        for key in sorted(set(payload) | set(draft.payload)):
            if payload.get(key) != draft.payload.get(key):
                before[f"payload.{key}"], after[f"payload.{key}"] = draft.payload.get(key), payload.get(key)
        draft.payload = payload
    if text is not None and text != draft.text:
        before["text"], after["text"] = draft.text, text
        draft.text = text
    if after:
        _decide(session, draft, user, "edited", None, before, after)
    return draft


Approval = Literal["approved", "awaiting_second_approval"]


def approve(
    session: Session,
    draft_id: int,
    user: User,
    row_version: int,
    *,
    now: datetime,
    jobs: Jobs,
    second_approver_for_red: bool,
) -> Approval:
    """Approve a draft and queue its submission; a red-risk draft may first need a second person."""
    draft = _for_change(session, draft_id, user, row_version, now=now)
    needs_two = second_approver_for_red and draft.risk == "red"
    if needs_two and draft.first_approver is None:
        draft.first_approver = user.id
        draft.claimed_by = draft.claimed_until = None
        _decide(session, draft, user, "first_approval", None, {"approvals": 0}, {"approvals": 1})
        return "awaiting_second_approval"
    if needs_two and draft.first_approver == user.id:
        raise BusinessError(
            f"Draft #{draft_id} is red risk: a second, different reviewer must approve it. You approved it first.",
            code="second_approver",
        )
    draft.status = "approved"
    draft.claimed_by = draft.claimed_until = None
    _decide(session, draft, user, "approved", None, {"status": "awaiting_review"}, {"status": "approved"})
    portal = portal_for(draft.workflow, draft.recipient)
    jobs.enqueue(
        "submit", SUBMIT_JOB, draft.id, rate_limit_key=portal, description=f"submit draft {draft.id} to {portal}"
    )
    return "approved"


def reject(session: Session, draft_id: int, user: User, row_version: int, reason: str, *, now: datetime) -> None:
    """Reject a draft: nothing is sent. The reason is required and kept."""
    if not reason.strip():
        raise BusinessError(
            "Say why you are rejecting the draft: the reason is kept with the decision.", code="reason_required"
        )
    draft = _for_change(session, draft_id, user, row_version, now=now)
    draft.status = "rejected"
    draft.claimed_by = draft.claimed_until = None
    _decide(session, draft, user, "rejected", reason.strip(), {"status": "awaiting_review"}, {"status": "rejected"})


def return_for_fix(
    session: Session, draft_id: int, user: User, row_version: int, reason: str, *, now: datetime
) -> None:
    """Send a draft back because the source data is wrong; it waits for the data to be fixed."""
    if not reason.strip():
        raise BusinessError(
            "Say what needs fixing in the source data, so the person fixing it knows.", code="reason_required"
        )
    draft = _for_change(session, draft_id, user, row_version, now=now)
    draft.status = "returned"
    draft.claimed_by = draft.claimed_until = None
    _decide(session, draft, user, "returned", reason.strip(), {"status": "awaiting_review"}, {"status": "returned"})
