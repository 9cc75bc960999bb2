"""What a reviewer does to a draft: claim it, edit it, approve, reject or return it.

Every change names the version of the draft it was made on; a change to a version that is no longer
current is refused (two people can never both approve, or overwrite each other's edits). Opening a
draft claims it for a few minutes. An approval is of one content version: any edit makes a new version
and clears the approvals given so far, so a red-risk draft is approved only when two different people
approved the same words. Approval queues the submission inside the same transaction: if the job cannot
be queued, the approval is not stored. Status moves go through vhub.store.draft_status.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub.drafting.payloads import SENDS_TEXT, edited_as
from vhub.errors import BusinessError
from vhub.portals import portal_for
from vhub.queues import Jobs
from vhub.review.accounts import User
from vhub.review.assignment import set_owner
from vhub.store.draft_status import DraftStatus, approvals_needed, approvers, change, move
from vhub.store.tables import DecisionRow, DraftRow, SubmissionRow, UserRow

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
    # Read again under the row's lock: two people opening the draft at once must not both think they hold it.
    session.refresh(draft, with_for_update=True)
    if draft.claimed_by not in (None, user.id) and draft.claimed_until and draft.claimed_until > now:
        return _name(session, draft.claimed_by)
    if draft.status == DraftStatus.AWAITING_REVIEW and draft.first_approver != user.id:  # cannot finish it alone
        draft.claimed_by = user.id
        draft.claimed_until = now + timedelta(minutes=minutes)
    return None


def _locked(session: Session, draft_id: int, row_version: int) -> DraftRow:
    """The draft, locked for the change, if it is still the version the person had open."""
    draft = session.scalars(select(DraftRow).where(DraftRow.id == draft_id).with_for_update()).first()
    if draft is None:
        raise BusinessError(f"There is no draft #{draft_id}.", code="not_found")
    if draft.row_version != row_version:
        raise Conflict(
            f"Draft #{draft_id} changed while you had it open (it is now {draft.status.replace('_', ' ')}). "
            "Your change was not saved: open the draft again to see the latest version."
        )
    return draft


def _for_change(session: Session, draft_id: int, user: User, row_version: int, *, now: datetime) -> DraftRow:
    draft = _locked(session, draft_id, row_version)
    if draft.status != DraftStatus.AWAITING_REVIEW:
        raise Conflict(f"Draft #{draft_id} is already {draft.status.replace('_', ' ')}; nothing was changed.")
    if draft.claimed_by not in (None, user.id) and draft.claimed_until and draft.claimed_until > now:
        raise ClaimedByOther(
            f"{_name(session, draft.claimed_by)} is reviewing draft #{draft_id} until "
            f"{draft.claimed_until:%H:%M} UTC. Try again after that, or ask them."
        )
    return draft


def _record(session: Session, draft: DraftRow, user: User, decision: str, reason: str | None = None) -> None:
    """Keep the person's decision with the row and content versions it was made on."""
    session.add(
        DecisionRow(
            draft_id=draft.id,
            user_id=user.id,
            decision=decision,
            reason=reason,
            row_version=draft.row_version,
            content_version=draft.content_version,
        )
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
    # Only what the bot sends can be edited: an edit nobody would receive must not look accepted.
    if text is not None and text != draft.text and draft.workflow not in SENDS_TEXT:
        raise BusinessError(
            f"The text of draft #{draft_id} is a summary for reviewers and is not sent: edit the fields instead.",
            code="not_editable",
        )
    if payload is not None and payload != draft.payload and edited_as(draft.workflow, draft.policy) is None:
        raise BusinessError(
            f"The fields of draft #{draft_id} are sent as drafted and cannot be edited: return it for a data fix "
            "or reject it.",
            code="not_editable",
        )
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
        cleared = [_name(session, approver) for approver in approvers(session, draft)]
        _record(session, draft, user, "edited")
        if cleared:
            after["approvals_cleared"] = cleared
        change(session, draft, actor=user.username, action="draft.edited", before=before, after=after, new_content=True)
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
    bulk: bool = False,
) -> Approval:
    """Approve the draft's current version and queue its submission once enough different people approved
    that same version (two for red risk when so configured). ``bulk``: approved from the queue with others,
    which its audit event says."""
    draft = _for_change(session, draft_id, user, row_version, now=now)
    given = approvers(session, draft)
    if user.id in given:
        raise BusinessError(
            f"You have already approved this version of draft #{draft_id}: a second, different reviewer must "
            "approve it.",
            code="second_approver",
        )
    needed = approvals_needed(draft, second_approver_for_red=second_approver_for_red)
    draft.claimed_by = draft.claimed_until = None
    _record(session, draft, user, "first_approval" if len(given) + 1 < needed else "approved")
    if len(given) + 1 < needed:
        draft.first_approver = user.id
        change(
            session,
            draft,
            actor=user.username,
            action="draft.first_approval",
            before={"approvals": len(given)},
            after={"approvals": len(given) + 1, "needed": needed, "content_version": draft.content_version},
        )
        return "awaiting_second_approval"
    move(
        session,
        draft,
        DraftStatus.APPROVED,
        actor=user.username,
        action="draft.approved",
        after={
            "approvals": len(given) + 1,
            "needed": needed,
            "content_version": draft.content_version,
            **({"bulk": True} if bulk else {}),
        },
    )
    portal = portal_for(draft.workflow, draft.recipient)
    jobs.enqueue(
        "submit", SUBMIT_JOB, draft.id, rate_limit_key=portal, description=f"submit draft {draft.id} to {portal}"
    )
    return "approved"


def reject(session: Session, draft_id: int, user: User, row_version: int, reason: str, *, now: datetime) -> None:
    """Reject a draft: nothing is sent. The reason is required and kept."""
    _close(
        session,
        draft_id,
        user,
        row_version,
        reason,
        DraftStatus.REJECTED,
        now=now,
        ask="Say why you are rejecting the draft: the reason is kept with the decision.",
    )


def return_for_fix(
    session: Session, draft_id: int, user: User, row_version: int, reason: str, *, now: datetime
) -> None:
    """Send a draft back because the source data is wrong; it waits for the data to be fixed, owned by the person
    who returned it (so it is in their "my items", and anyone can take it over)."""
    draft = _close(
        session,
        draft_id,
        user,
        row_version,
        reason,
        DraftStatus.RETURNED,
        now=now,
        ask="Say what needs fixing in the source data, so the person fixing it knows.",
    )
    set_owner(session, "draft", draft, user, owner=user, why="returned")


def reopen(session: Session, draft_id: int, user: User, row_version: int, note: str) -> None:
    """Put a returned draft back to review once its data is fixed (or it was returned by mistake): a new round,
    so approvals given before it was returned do not count."""
    if not note.strip():
        raise BusinessError(
            "Say what was fixed, or why the draft goes back to review: the note is kept with the decision.",
            code="reason_required",
        )
    draft = _locked(session, draft_id, row_version)
    if draft.status != DraftStatus.RETURNED:
        raise Conflict(f"Draft #{draft_id} is {draft.status.replace('_', ' ')}: only a returned draft can be reopened.")
    draft.needs_attention = True
    draft.attention_reason = f"Reopened by {user.display_name}: {note.strip()}"[:300]
    _record(session, draft, user, "reopened", note.strip())
    move(
        session,
        draft,
        DraftStatus.AWAITING_REVIEW,
        actor=user.username,
        action="draft.reopened",
        after={"note": note.strip()},
        new_content=True,
    )


def take_back(
    session: Session, draft_id: int, user: User, row_version: int, reason: str, *, now: datetime, jobs: Jobs
) -> None:
    """Take an approved draft that is not being sent (its portal paused, its sending failed, or still queued)
    back to review: its approvals stop counting and nothing is sent until it is approved again."""
    if not reason.strip():
        raise BusinessError(
            "Say why you are taking the draft back: the reason is kept with the decision.", code="reason_required"
        )
    draft = _locked(session, draft_id, row_version)
    if draft.status not in (DraftStatus.APPROVED, DraftStatus.SENDING):
        raise Conflict(
            f"Draft #{draft_id} is {draft.status.replace('_', ' ')}: only an approved draft not yet sent "
            "can be taken back."
        )
    if jobs.running(SUBMIT_JOB, draft_id):
        raise BusinessError(
            f"Draft #{draft_id} is being sent right now. Wait for the attempt to end (a minute or two), then "
            "take it back if it has not gone.",
            code="being_sent",
        )
    submission = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).first()
    if submission is not None:
        # Kept, with its key: if an earlier attempt did reach the portal, the next send finds it there.
        submission.status, submission.last_error = "withdrawn", f"Taken back to review by {user.display_name}."
    draft.needs_attention = True
    draft.attention_reason = f"Taken back to review by {user.display_name}: {reason.strip()}"
    draft.claimed_by = draft.claimed_until = None
    _record(session, draft, user, "taken_back", reason.strip())
    move(  # a new round: the approvals that sent it before do not send it again
        session,
        draft,
        DraftStatus.AWAITING_REVIEW,
        actor=user.username,
        action="draft.taken_back",
        after={"reason": reason.strip()},
        new_content=True,
    )


def _close(
    session: Session,
    draft_id: int,
    user: User,
    row_version: int,
    reason: str,
    to: DraftStatus,
    *,
    now: datetime,
    ask: str,
) -> DraftRow:
    """A decision that ends the review with a reason (rejected, returned); ``ask`` is said when none is given."""
    if not reason.strip():
        raise BusinessError(ask, code="reason_required")
    draft = _for_change(session, draft_id, user, row_version, now=now)
    draft.claimed_by = draft.claimed_until = None
    _record(session, draft, user, to.value, reason.strip())
    move(session, draft, to, actor=user.username, action=f"draft.{to.value}", after={"reason": reason.strip()})
    return draft
