"""Who looks after a queue item: its owner, set by "assign to me", by assigning to someone, or by returning a draft.

An owner is not a claim: it locks nothing and does not change the draft's version, so assigning never makes a
colleague's open draft stale. Every change of owner is audited (who, from whom, to whom).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub.errors import BusinessError
from vhub.review.accounts import User
from vhub.store.audit import record_event
from vhub.store.tables import DataQualityItemRow, DraftRow, UserRow

Kind = Literal["draft", "data_quality"]
OPEN_DRAFT = ("awaiting_review", "returned")
"""Drafts that still wait for someone: only these take an owner."""


def _name(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(UserRow.display_name).where(UserRow.id == user_id))


def set_owner(
    session: Session, kind: Kind, row: DraftRow | DataQualityItemRow, actor: User, *, owner: User | None, why: str
) -> bool:
    """Make ``owner`` (None: nobody) the row's owner and audit it; False if it already was."""
    new = owner.id if owner else None
    if row.owner_id == new:
        return False
    before = _name(session, row.owner_id)
    row.owner_id = new
    record_event(
        session,
        actor=actor.username,
        action=f"{'draft' if kind == 'draft' else 'data_quality'}.assigned",
        entity_type="draft" if kind == "draft" else "data_quality_item",
        entity_id=str(row.id),
        before={"owner": before},
        after={"owner": owner.display_name if owner else None, "why": why},
    )
    return True


def assign(session: Session, kind: Kind, row_id: int, actor: User, owner: User | None) -> bool:
    """Assign an open draft or data-quality item to ``owner`` (or to nobody); refused, with why, for anything that
    no longer waits for a person."""
    label = "Draft" if kind == "draft" else "Data-quality item"
    row: DraftRow | DataQualityItemRow | None
    if kind == "draft":
        row = session.scalars(select(DraftRow).where(DraftRow.id == row_id).with_for_update()).first()
    else:
        row = session.scalars(
            select(DataQualityItemRow).where(DataQualityItemRow.id == row_id).with_for_update()
        ).first()
    if row is None:
        raise BusinessError(f"There is no {label.lower()} #{row_id}.", code="not_found")
    waiting = row.status in OPEN_DRAFT if isinstance(row, DraftRow) else row.status == "open"
    if not waiting:
        raise BusinessError(
            f"{label} #{row_id} is {row.status.replace('_', ' ')}: only items still waiting for a person take an "
            "owner.",
            code="not_open",
        )
    return set_owner(session, kind, row, actor, owner=owner, why="assigned")


def active_users(session: Session) -> list[User]:
    """Everyone an item can be assigned to: reviewers' and admins' accounts not disabled, by name (an auditor never
    sees the queue)."""
    rows = session.scalars(
        select(UserRow)
        .where(UserRow.disabled.is_(False), UserRow.role.in_(("reviewer", "admin")))
        .order_by(UserRow.display_name)
    )
    return [User(row.id, row.username, row.display_name, row.role) for row in rows]
