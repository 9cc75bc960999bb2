"""A draft's life: its statuses, the moves allowed between them, and the one function that makes a move.

    awaiting_review ──approve──> approved ──send──> sending ──sent──> sent
      │ │ │   ^                     │                 │
      │ │ │   └── approvals do not match the version ─┘ partner refused it
      │ │ └──reject──> rejected
      │ └──return for a data fix──> returned ──┐   (reopen: returned ──> awaiting_review)
      └──a newer incident version──────────────┴──> superseded

Every move and every change of content goes through ``move`` or ``change``: each bumps ``row_version`` (the
optimistic lock two reviewers meet) and writes the audit event, in the caller's transaction. An edit also
starts a new ``content_version``, the version people approve; approvals of an earlier version no longer count.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub.errors import VhubError
from vhub.store.audit import record_event
from vhub.store.tables import DecisionRow, DraftRow


class DraftStatus(StrEnum):
    AWAITING_REVIEW = "awaiting_review"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    REJECTED = "rejected"
    RETURNED = "returned"
    SUPERSEDED = "superseded"


ALLOWED: dict[DraftStatus, frozenset[DraftStatus]] = {
    DraftStatus.AWAITING_REVIEW: frozenset(
        {DraftStatus.APPROVED, DraftStatus.REJECTED, DraftStatus.RETURNED, DraftStatus.SUPERSEDED}
    ),
    DraftStatus.APPROVED: frozenset({DraftStatus.SENDING, DraftStatus.AWAITING_REVIEW}),
    DraftStatus.SENDING: frozenset({DraftStatus.SENT, DraftStatus.AWAITING_REVIEW}),
    DraftStatus.RETURNED: frozenset({DraftStatus.SUPERSEDED, DraftStatus.AWAITING_REVIEW}),
    DraftStatus.SENT: frozenset(),
    DraftStatus.REJECTED: frozenset(),
    DraftStatus.SUPERSEDED: frozenset(),
}
"""Where each status may go next; anything else is a bug, refused before anything is written."""

APPROVALS = ("first_approval", "approved")
"""Decisions that count as a person's approval of the version they were made on."""


class IllegalMove(VhubError):
    """A status change the draft's life does not allow (a sent draft back to review, a rejected one sent)."""

    code = "illegal_move"


def move(
    session: Session,
    draft: DraftRow,
    to: DraftStatus,
    *,
    actor: str,
    action: str,
    after: dict[str, Any] | None = None,
    new_content: bool = False,
) -> None:
    """Move ``draft`` to status ``to`` if its life allows it; bump its version and audit the move.
    ``new_content``: as for ``change``, the move starts a new version to approve."""
    current = DraftStatus(draft.status)
    if to not in ALLOWED[current]:
        raise IllegalMove(f"Draft #{draft.id} cannot go from {current.value} to {to.value}; nothing was changed.")
    draft.status = to.value
    change(
        session,
        draft,
        actor=actor,
        action=action,
        before={"status": current.value},
        after={"status": to.value, **(after or {})},
        new_content=new_content,
    )


def change(
    session: Session,
    draft: DraftRow,
    *,
    actor: str,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    new_content: bool = False,
) -> None:
    """Record a change that keeps the status (an edit, an approval, a flag): bump the version, audit it.
    ``new_content`` starts a new version to approve: earlier approvals stop counting."""
    draft.row_version += 1
    if new_content:
        draft.content_version += 1
        draft.first_approver = None
    record_event(
        session,
        actor=actor,
        action=action,
        entity_type="draft",
        entity_id=str(draft.id),
        before=before,
        after={**(after or {}), "content_version": draft.content_version} if new_content else after,
    )


def approvers(session: Session, draft: DraftRow) -> list[int]:
    """The people (user ids, in order) who approved the draft's current content version."""
    rows = session.scalars(
        select(DecisionRow.user_id)
        .where(
            DecisionRow.draft_id == draft.id,
            DecisionRow.decision.in_(APPROVALS),
            DecisionRow.content_version == draft.content_version,
        )
        .order_by(DecisionRow.id)
    )
    return list(dict.fromkeys(rows))


def approvals_needed(draft: DraftRow, *, second_approver_for_red: bool) -> int:
    """How many different people must approve the same version before it is sent."""
    return 2 if second_approver_for_red and draft.risk == "red" else 1
