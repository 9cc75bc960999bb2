"""The review queue: drafts and data-quality items, filtered, ordered by deadline then risk, in pages.

Each row shows its deadline as time left and a state (on time, due soon, overdue); each filter option
shows how many rows it would give with the other filters as they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub.store.tables import DataQualityItemRow, DraftRow, UserRow

PAGE_SIZE = 25
DUE_SOON = timedelta(hours=4)
RISK_ORDER = {"red": 0, "amber": 1, "green": 2, "blue": 3, None: 4}
TYPES = {
    "referral": "Referral",
    "encompass": "Operation Encompass",
    "marac": "MARAC",
    "isr_response": "ISR response",
    "data_quality": "Data quality",
}
STATUSES = {
    "to_do": "Waiting for a person (all)",
    "awaiting_review": "Awaiting review",
    "second_approval": "Awaiting second approval",
    "returned": "Returned for a data fix",
    "approved": "Approved",
    "sent": "Sent",
    "rejected": "Rejected",
}
FILTERS = ("type", "authority", "risk", "status", "overdue")
TO_DO = ("awaiting_review", "second_approval")


@dataclass(frozen=True)
class Row:
    kind: str  # draft or data_quality
    id: int
    type: str
    title: str
    source: str
    recipient: str
    authority: str | None
    risk: str | None
    status: str
    deadline: datetime | None
    time_left: str
    state: str  # on time, due soon, overdue, no deadline
    reviewer: str | None
    needs_attention: bool

    @property
    def href(self) -> str:
        return f"/drafts/{self.id}" if self.kind == "draft" else f"/data-quality/{self.id}"


@dataclass
class QueuePage:
    rows: list[Row]
    total: int
    page: int
    pages: int
    filters: dict[str, str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


def time_left(deadline: datetime | None, now: datetime) -> tuple[str, str]:
    """("3 h 20 min left", "due soon"), ("overdue by 2 days", "overdue")..."""
    if deadline is None:
        return "no deadline", "no deadline"
    delta = deadline - now
    span = abs(delta)
    if span >= timedelta(days=2):
        text = f"{span.days} days"
    elif span >= timedelta(hours=1):
        text = f"{int(span.total_seconds() // 3600)} h {int(span.total_seconds() % 3600 // 60)} min"
    else:
        text = f"{max(1, int(span.total_seconds() // 60))} min"
    if delta < timedelta(0):
        return f"overdue by {text}", "overdue"
    return f"{text} left", "due soon" if delta <= DUE_SOON else "on time"


def _status_of(draft: DraftRow) -> str:
    if draft.status == "awaiting_review" and draft.first_approver is not None:
        return "second_approval"
    return draft.status


def _rows(session: Session, now: datetime) -> list[Row]:
    names = dict(session.execute(select(UserRow.id, UserRow.display_name)).all())
    rows: list[Row] = []
    for draft in session.scalars(select(DraftRow).where(DraftRow.status != "superseded")):
        left, state = time_left(draft.deadline, now)
        claimed = draft.claimed_by if draft.claimed_until and draft.claimed_until > now else None
        rows.append(
            Row(
                "draft",
                draft.id,
                draft.workflow,
                draft.title,
                draft.source_ref,
                draft.recipient_name,
                draft.authority,
                draft.risk,
                _status_of(draft),
                draft.deadline,
                left,
                state,
                names.get(claimed) if claimed else None,
                draft.needs_attention,
            )
        )
    for item in session.scalars(select(DataQualityItemRow).where(DataQualityItemRow.status == "open")):
        rows.append(
            Row(
                "data_quality",
                item.id,
                "data_quality",
                "; ".join(item.reasons)[:160],
                item.reference or "-",
                "a person at VHub",
                None,
                None,
                "awaiting_review",
                None,
                "no deadline",
                "no deadline",
                None,
                True,
            )
        )
    return rows


def _matches(row: Row, filters: dict[str, str], skip: str | None = None) -> bool:
    for name, value in filters.items():
        if name == skip or not value:
            continue
        if name == "overdue":
            if (value == "yes") != (row.state == "overdue"):
                return False
        elif name == "status" and value == "to_do":
            if row.status not in TO_DO:
                return False
        elif str(getattr(row, name) or "") != value:
            return False
    return True


def queue_page(session: Session, filters: dict[str, str], page: int, now: datetime) -> QueuePage:
    filters = {name: filters.get(name, "") for name in FILTERS}
    if not filters["status"]:
        filters["status"] = "to_do"
    rows = _rows(session, now)
    counts: dict[str, dict[str, int]] = {}
    for name in FILTERS:
        others = [row for row in rows if _matches(row, filters, skip=name)]
        if name == "overdue":
            counts[name] = {
                "yes": sum(r.state == "overdue" for r in others),
                "no": sum(r.state != "overdue" for r in others),
            }
        else:
            counts[name] = dict(Counter(str(getattr(row, name) or "") for row in others))
    chosen = [row for row in rows if _matches(row, filters)]
    chosen.sort(key=lambda r: (r.deadline is None, r.deadline or now, RISK_ORDER.get(r.risk, 4), r.kind, r.id))
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return QueuePage(chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], len(chosen), page, pages, filters, counts)


def options() -> dict[str, Any]:
    return {"types": TYPES, "statuses": STATUSES, "risks": ("red", "amber", "green", "blue")}
