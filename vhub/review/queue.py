"""The review queue: drafts and data-quality items, filtered, ordered by deadline then risk, in pages.

Each row shows its deadline as time left and a state (on time, due soon, overdue); each filter option
shows how many rows it would give with the other filters as they are. Filtering, counting, ordering and
paging happen in SQL: a page reads its own 25 rows, whatever the size of the backlog.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from vhub.store.tables import DataQualityItemRow, DraftRow, UserRow

PAGE_SIZE = 25
DUE_SOON = timedelta(hours=4)
HISTORIC_AFTER = timedelta(days=7)  # a deadline this long gone when the draft was made marks historic backlog
RISK_RANK = {"red": 0, "amber": 1, "green": 2, "blue": 3}  # any other risk, or none, after blue
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
    historic: bool = False  # historic backlog: see ``historic_backlog``

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


# The queue is every draft not superseded and every open data-quality item, each kind read through a subquery with
# the same columns, so one set of conditions filters both. Counts are GROUP BYs on each kind apart (SQLite flattens
# such a subquery into a scan of one covering index); a page is the two kinds merged by one ORDER BY ... LIMIT.
# The statements are built once: every filter is a parameter, "" for any, so a request only binds its values.
def historic_backlog(deadline: datetime | None, created_at: datetime | None) -> bool:
    """Whether a draft is historic backlog: its deadline had passed more than ``HISTORIC_AFTER`` before the draft
    was made (an old incident read late, as on the first run over a force's records), so "overdue" is no news."""
    return deadline is not None and created_at is not None and deadline < created_at - HISTORIC_AFTER


_KIND_ORDER = {"data_quality": 0, "draft": 1}  # at the same deadline and risk, data-quality items first


def _param(name: str) -> BindParameter[str]:
    return bindparam(name, type_=String)


def _sources() -> list[Subquery]:
    status = case(
        (and_(DraftRow.status == "awaiting_review", DraftRow.first_approver.is_not(None)), "second_approval"),
        else_=DraftRow.status,
    )
    drafts = select(
        literal_column(str(_KIND_ORDER["draft"]), Integer).label("kind"),
        DraftRow.id.label("id"),
        DraftRow.workflow.label("type"),
        DraftRow.authority.label("authority"),
        DraftRow.risk.label("risk"),
        status.label("status"),
        DraftRow.status.label("stored_status"),
        DraftRow.deadline.label("deadline"),
    ).where(DraftRow.status != "superseded")
    # Typed NULLs: PostgreSQL compares a column by its type, and an untyped NULL in a subquery is text.
    items = select(
        literal_column(str(_KIND_ORDER["data_quality"]), Integer).label("kind"),
        DataQualityItemRow.id.label("id"),
        literal_column("'data_quality'", String).label("type"),
        cast(null(), String).label("authority"),
        cast(null(), String).label("risk"),
        literal_column("'awaiting_review'", String).label("status"),
        literal_column("'awaiting_review'", String).label("stored_status"),
        DataQualityItemRow.deadline.label("deadline"),
    ).where(DataQualityItemRow.status == "open")
    return [drafts.subquery("queued_drafts"), items.subquery("queued_items")]


def _facet(name: str, source: Subquery) -> ColumnElement[Any]:
    """What a row counts under for filter ``name``, and is filtered on: its value, "" when it has none.

    Always an expression, never the bare column: SQLite would otherwise choose a one-column index (authority) or one
    that sorts (workflow, through ix_drafts_lineage) and read thousands of drafts row by row, where a scan of the
    covering index ix_drafts_queue reads none."""
    if name == "overdue":
        now = bindparam("now", type_=DraftRow.deadline.type)
        return case((and_(source.c.deadline.is_not(None), source.c.deadline < now), "yes"), else_="no")
    return func.coalesce(source.c[name], "")


def _conditions(source: Subquery, skip: str | None = None) -> list[ColumnElement[bool]]:
    """Every filter but ``skip``, each as parameters (see ``_values``)."""
    conditions = [
        or_(_param(name) == "", _facet(name, source) == _param(name))
        for name in FILTERS
        if name not in (skip, "status")
    ]
    if skip != "status":
        # The stored status narrows the scan to one range of the index (the drafts still waiting, not every draft
        # ever sent); the status shown (second approval apart) decides.
        conditions.append(source.c.stored_status == _param("stored_status"))
        conditions.append(or_(_param("status") == "to_do", _facet("status", source) == _param("status")))
    return conditions


def _values(filters: dict[str, str], now: datetime, page: int) -> dict[str, Any]:
    """The statements' parameters for ``filters`` (status always set): "" is any; any overdue but "yes" is "no"."""
    status = filters["status"]
    return {
        **filters,
        "overdue": {"": "", "yes": "yes"}.get(filters["overdue"], "no"),
        "stored_status": "awaiting_review" if status in (*TO_DO, "to_do") else status,
        "now": now,
        "limit": PAGE_SIZE,
        "offset": (page - 1) * PAGE_SIZE,
    }


@cache
def _statements() -> tuple[dict[str, CompoundSelect], CompoundSelect]:
    """Per filter, its options counted with the other filters as they are (one GROUP BY each: one over every
    filter at once costs more, its groups being many and each row sorted into one); and a page's (kind, id)."""
    sources = _sources()
    counts = {}
    for name in FILTERS:
        # Grouped by name, through a subquery: PostgreSQL would not match a GROUP BY expression with parameters.
        facets = [
            select(_facet(name, source).label("value")).where(*_conditions(source, skip=name)).subquery("facet")
            for source in sources
        ]
        counts[name] = union_all(*(select(facet.c.value, func.count()).group_by(facet.c.value) for facet in facets))
    merged = union_all(
        *(
            select(
                source.c.kind,
                source.c.id,
                source.c.deadline.is_(None).label("no_deadline"),
                source.c.deadline,
                case(RISK_RANK, value=source.c.risk, else_=len(RISK_RANK)).label("risk_rank"),
            ).where(*_conditions(source))
            for source in sources
        )
    )
    order = merged.selected_columns
    page = (
        merged.order_by(order.no_deadline, order.deadline, order.risk_rank, order.kind, order.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return counts, page


def _counts(session: Session, values: dict[str, Any]) -> dict[str, dict[str, int]]:
    """For each filter, how many rows each of its options gives with the other filters as they are."""
    counts: dict[str, dict[str, int]] = {}
    for name, statement in _statements()[0].items():
        tally: Counter[str] = Counter()
        for value, count in session.execute(statement, values):
            tally[str(value)] += count
        counts[name] = dict(tally)
    counts["status"]["to_do"] = sum(counts["status"].get(status, 0) for status in TO_DO)
    return counts


def _shown(session: Session, keys: list[tuple[int, int]], now: datetime) -> list[Row]:
    """The rows of one page, in the order of ``keys`` (kind, id)."""
    draft_ids = [row_id for kind, row_id in keys if kind == _KIND_ORDER["draft"]]
    item_ids = [row_id for kind, row_id in keys if kind == _KIND_ORDER["data_quality"]]
    drafts = {
        draft.id: draft
        for draft in session.execute(
            select(
                DraftRow.id,
                DraftRow.workflow,
                DraftRow.title,
                DraftRow.source_ref,
                DraftRow.recipient_name,
                DraftRow.authority,
                DraftRow.risk,
                DraftRow.status,
                DraftRow.first_approver,
                DraftRow.deadline,
                DraftRow.claimed_by,
                DraftRow.claimed_until,
                DraftRow.needs_attention,
                DraftRow.created_at,
            ).where(DraftRow.id.in_(draft_ids))
        )
    }
    items = {
        item.id: item
        for item in session.execute(
            select(DataQualityItemRow.id, DataQualityItemRow.reasons, DataQualityItemRow.reference).where(
                DataQualityItemRow.id.in_(item_ids)
            )
        )
    }
    claimed = {
        draft.id: draft.claimed_by
        for draft in drafts.values()
        if draft.claimed_by is not None and draft.claimed_until and draft.claimed_until > now
    }
    names = dict(
        session.execute(select(UserRow.id, UserRow.display_name).where(UserRow.id.in_(set(claimed.values())))).all()
    )
    rows: list[Row] = []
    for kind, row_id in keys:
        if kind == _KIND_ORDER["draft"]:
            draft = drafts[row_id]
            left, state = time_left(draft.deadline, now)
            second = draft.status == "awaiting_review" and draft.first_approver is not None
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
                    "second_approval" if second else draft.status,
                    draft.deadline,
                    left,
                    state,
                    names.get(claimed[draft.id]) if draft.id in claimed else None,
                    draft.needs_attention,
                    historic=historic_backlog(draft.deadline, draft.created_at),
                )
            )
        else:
            item = items[row_id]
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


def queue_page(session: Session, filters: dict[str, str], page: int, now: datetime) -> QueuePage:
    filters = {name: filters.get(name, "") for name in FILTERS}
    if not filters["status"]:
        filters["status"] = "to_do"
    counts = _counts(session, _values(filters, now, 1))
    # Every row has a type, so the type counts (taken with every other filter) hold the total.
    by_type = counts["type"]
    total = by_type.get(filters["type"], 0) if filters["type"] else sum(by_type.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    keys = session.execute(_statements()[1], _values(filters, now, page))
    rows = _shown(session, [(kind, row_id) for kind, row_id, *_ in keys], now)
    return QueuePage(rows, total, page, pages, filters, counts)


def options() -> dict[str, Any]:
    return {"types": TYPES, "statuses": STATUSES, "risks": ("red", "amber", "green", "blue")}
