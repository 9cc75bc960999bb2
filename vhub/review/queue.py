"""The review queue: drafts and data-quality items, searched, filtered, sorted and paged.

Each row shows its deadline as time left and a state (on time, due soon, overdue), its status and its owner; each
filter option shows how many rows it would give with the other filters as they are. Searching, filtering,
counting, ordering and paging happen in SQL: a page reads its own 25 rows, whatever the size of the backlog.
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
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from vhub.review.record_ids import record_id
from vhub.review.record_labels import plain_reason
from vhub.store.incidents import name_key
from vhub.store.tables import DataQualityItemRow, DraftRow, IncidentPersonRow, IncidentRow, PersonRow, UserRow

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
AUTHORITIES = {
    "herefordshire": "Herefordshire",
    "worcestershire": "Worcestershire",
    "shropshire": "Shropshire",
    "telford_wrekin": "Telford & Wrekin",
}
STATUSES = {
    "to_do": "Waiting for a person (all)",
    "open": "Waiting or returned (all open)",
    "awaiting_review": "Awaiting review",
    "second_approval": "Awaiting second approval",
    "returned": "Returned for a data fix",
    "approved": "Approved",
    "sent": "Sent",
    "rejected": "Rejected",
}
OWNERS = {"me": "My items", "none": "Nobody's yet"}
FILTERS = ("type", "authority", "risk", "status", "overdue", "owner")
CHOICES: dict[str, tuple[str, ...]] = {
    "type": tuple(TYPES),
    "authority": tuple(AUTHORITIES),
    "risk": tuple(RISK_RANK),
    "status": tuple(STATUSES),
    "overdue": ("yes", "no"),
    "owner": tuple(OWNERS),
}
"""Every value a filter takes; anything else in an address means "any" (the status: waiting for a person), so the
option shown as chosen is always the one applied and its count is what is listed."""
TO_DO = ("awaiting_review", "second_approval")
OPEN = (*TO_DO, "returned")
GROUPS = {"to_do": TO_DO, "open": OPEN}
"""Status options that stand for several statuses: no row has them, so each counts the rows of its statuses."""
SORTS = {
    "deadline": "Deadline",
    "risk": "Risk",
    "created": "Created",
    "type": "Type",
    "authority": "Authority",
}
SEARCH_MIN, SEARCH_MAX = 2, 100


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
    owner: str | None = None
    owner_id: int | None = None
    created_at: datetime | None = None
    row_version: int = 0
    historic: bool = False  # historic backlog: see ``historic_backlog``

    @property
    def href(self) -> str:
        return f"/drafts/{self.id}" if self.kind == "draft" else f"/data-quality/{self.id}"

    @property
    def key(self) -> str:
        """How a bulk action names the row and the version the person saw: ``draft:12:3``, ``data_quality:4:0``."""
        return f"{self.kind}:{self.id}:{self.row_version}"


@dataclass
class QueuePage:
    rows: list[Row]
    total: int
    page: int
    pages: int
    filters: dict[str, str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    sort: str = "deadline"
    descending: bool = False
    search: str | None = None


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


def search_problem(term: str) -> str | None:
    """Why a search term cannot be used, in words the person can act on; None if it will do."""
    if len(term.strip()) < SEARCH_MIN:
        return f"Type at least {SEARCH_MIN} characters to search."
    if len(term.strip()) > SEARCH_MAX:
        return f"A search is at most {SEARCH_MAX} characters."
    return None


def historic_backlog(deadline: datetime | None, created_at: datetime | None) -> bool:
    """Whether a draft is historic backlog: its deadline had passed more than ``HISTORIC_AFTER`` before the draft
    was made (an old incident read late, as on the first run over a force's records), so "overdue" is no news."""
    return deadline is not None and created_at is not None and deadline < created_at - HISTORIC_AFTER


# The queue is every draft not superseded and every open data-quality item, each kind read through a subquery with
# the same columns, so one set of conditions filters both. Counts are GROUP BYs on each kind apart (SQLite flattens
# such a subquery into a scan of one covering index); a page is the two kinds merged by one ORDER BY ... LIMIT.
# The statements are built once per sort and with or without a search: every filter is a parameter, "" for any, so
# a request only binds its values.
_KIND_ORDER = {"data_quality": 0, "draft": 1}  # at the same deadline and risk, data-quality items first
_PAIRED = ("type", "owner")  # counted together while both are "any", as in the queue as it opens


def _param(name: str) -> BindParameter[str]:
    return bindparam(name, type_=String)


def _people_references() -> Select[Any]:
    """References of incidents naming a person by nominal number or by name (whole words of the normalised name,
    found in the people's name index)."""
    return (
        select(IncidentRow.reference)
        .join(IncidentPersonRow, IncidentPersonRow.incident_id == IncidentRow.id)
        .join(PersonRow, PersonRow.id == IncidentPersonRow.person_id)
        .where(
            or_(
                PersonRow.nominal_ref == _param("search_upper"),
                and_(
                    _param("search_name") != "",
                    (literal(" ") + PersonRow.name_key + literal(" ")).like(_param("search_words")),
                ),
            )
        )
    )


def _matching() -> tuple[Select[Any], Select[Any]]:
    """The ids of drafts and of data-quality items a search finds: by number, incident reference, nominal number
    or name, school (recipient) or authority. Each part reads one index of its own."""
    like = _param("search_like")
    people = _people_references()
    drafts = union_all(
        select(DraftRow.id).where(DraftRow.id == bindparam("search_id", type_=Integer)),
        select(DraftRow.id).where(func.lower(DraftRow.source_ref).like(like)),
        select(DraftRow.id).where(func.upper(DraftRow.subject) == _param("search_upper")),
        select(DraftRow.id).where(func.lower(DraftRow.recipient_name).like(like)),
        select(DraftRow.id).where(DraftRow.authority.in_(bindparam("search_authorities", expanding=True))),
        select(DraftRow.id).where(DraftRow.source_ref.in_(people)),
    ).subquery("found_drafts")
    items = union_all(
        select(DataQualityItemRow.id).where(DataQualityItemRow.id == bindparam("search_id", type_=Integer)),
        select(DataQualityItemRow.id).where(func.lower(DataQualityItemRow.reference).like(like)),
        select(DataQualityItemRow.id).where(DataQualityItemRow.reference.in_(people)),
    ).subquery("found_items")
    return select(drafts.c.id), select(items.c.id)


def _sources(searching: bool) -> list[Subquery]:
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
        DraftRow.owner_id.label("owner_id"),
        DraftRow.created_at.label("created_at"),
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
        DataQualityItemRow.owner_id.label("owner_id"),
        DataQualityItemRow.created_at.label("created_at"),
    ).where(DataQualityItemRow.status == "open")
    if searching:
        found_drafts, found_items = _matching()
        drafts = drafts.where(DraftRow.id.in_(found_drafts))
        items = items.where(DataQualityItemRow.id.in_(found_items))
    return [drafts.subquery("queued_drafts"), items.subquery("queued_items")]


def _facet(name: str, source: Subquery) -> ColumnElement[Any]:
    """What a row counts under for filter ``name``, and is filtered on: its value, "" when it has none.

    Always an expression, never the bare column: SQLite would otherwise choose a one-column index (authority) or one
    that sorts (workflow, through ix_drafts_lineage) and read thousands of drafts row by row, where a scan of the
    covering index ix_drafts_queue reads none."""
    if name == "overdue":
        now = bindparam("now", type_=DraftRow.deadline.type)
        return case((and_(source.c.deadline.is_not(None), source.c.deadline < now), "yes"), else_="no")
    if name == "owner":
        me = bindparam("me", type_=Integer)
        return case((source.c.owner_id == me, "me"), (source.c.owner_id.is_(None), "none"), else_="other")
    return func.coalesce(source.c[name], "")


def _conditions(source: Subquery, skip: tuple[str, ...] = ()) -> list[ColumnElement[bool]]:
    """Every filter but those in ``skip``, each as parameters (see ``_values``)."""
    conditions = [
        or_(_param(name) == "", _facet(name, source) == _param(name))
        for name in FILTERS
        if name not in (*skip, "status")
    ]
    if "status" not in skip:
        # The stored status narrows the scan to one range of the index (the drafts still waiting, not every draft
        # ever sent); the status shown (second approval apart) decides.
        # Two stored statuses (the same one twice but for "open"): two ranges of the index.
        conditions.append(source.c.stored_status.in_([_param("stored_status"), _param("stored_status_also")]))
        groups = [_param("status") == literal(group) for group in GROUPS]
        conditions.append(or_(*groups, _facet("status", source) == _param("status")))
    return conditions


def _search_values(search: str | None) -> dict[str, Any]:
    term = (search or "").strip()
    words = name_key(term, "")
    number = term.lstrip("#")
    return {
        "search_id": record_id(number) or -1,
        "search_like": "%" + term.lower().replace("\\", "").replace("%", "").replace("_", "") + "%",
        "search_upper": term.upper(),
        "search_name": words,
        "search_words": f"% {words} %",
        "search_authorities": [
            key
            for key, label in AUTHORITIES.items()
            if term.lower() in (key, label.lower()) or term.lower() in label.lower()
        ]
        or [""],
    }


def _values(
    filters: dict[str, str], now: datetime, page: int, *, me: int | None = None, search: str | None = None
) -> dict[str, Any]:
    """The statements' parameters for ``filters`` (status always set): "" is any; any overdue but "yes" is "no"."""
    status = filters["status"]
    stored = "awaiting_review" if status in (*TO_DO, *GROUPS) else status
    return {
        **filters,
        "overdue": {"": "", "yes": "yes"}.get(filters["overdue"], "no"),
        "stored_status": stored,
        "stored_status_also": "returned" if status == "open" else stored,
        "now": now,
        "me": me if me is not None else -1,
        "limit": PAGE_SIZE,
        "offset": (page - 1) * PAGE_SIZE,
        **(_search_values(search) if search else {}),
    }


def _order(merged: CompoundSelect, sort: str, descending: bool) -> list[Any]:
    """ORDER BY of the merged rows: the chosen column (rows without a value last either way), then deadline and
    risk, data-quality items before drafts, then number."""
    column = merged.selected_columns
    usual = [column.no_deadline, column.deadline, column.risk_rank, column.kind, column.id]
    chosen = {
        "deadline": [column.no_deadline, column.deadline],
        "risk": [column.no_risk, column.risk_rank],
        "created": [column.created_at],
        "type": [column.type],
        "authority": [column.no_authority, column.authority],
    }[sort]
    if sort == "deadline" and not descending:
        return usual
    if descending:
        chosen = [part if index == 0 and len(chosen) == 2 else part.desc() for index, part in enumerate(chosen)]
    return [*chosen, *usual]


@cache
def _statements(
    searching: bool = False, sort: str = "deadline", descending: bool = False
) -> tuple[dict[str, CompoundSelect], CompoundSelect, CompoundSelect]:
    """Per filter, its options counted with the other filters as they are (one GROUP BY each: one over every
    filter at once costs more, its groups being many and each row sorted into one); a page's (kind, id); and every
    (kind, id) of the view in order (for its export)."""
    sources = _sources(searching)
    counts = {}
    for names in [*((name,) for name in FILTERS), _PAIRED]:
        # Grouped by name, through a subquery: PostgreSQL would not match a GROUP BY expression with parameters.
        facets = [
            select(*(_facet(name, source).label(name) for name in names))
            .where(*_conditions(source, skip=names))
            .subquery("facet")
            for source in sources
        ]
        counts["+".join(names)] = union_all(*(select(*facet.c, func.count()).group_by(*facet.c) for facet in facets))
    merged = union_all(
        *(
            select(
                source.c.kind,
                source.c.id,
                source.c.deadline.is_(None).label("no_deadline"),
                source.c.deadline,
                case(RISK_RANK, value=source.c.risk, else_=len(RISK_RANK)).label("risk_rank"),
                case(dict.fromkeys(RISK_RANK, 0), value=source.c.risk, else_=1).label("no_risk"),
                source.c.authority.is_(None).label("no_authority"),
                source.c.created_at,
                source.c.type,
                source.c.authority,
            ).where(*_conditions(source))
            for source in sources
        )
    )
    ordered = merged.order_by(*_order(merged, sort, descending))
    page = ordered.limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer))
    return counts, page, ordered


def _counts(
    session: Session, statements: dict[str, CompoundSelect], values: dict[str, Any]
) -> dict[str, dict[str, int]]:
    """For each filter, how many rows each of its options gives with the other filters as they are. Two filters
    both left at "any" are counted by one statement grouped by both (one scan of the index instead of two)."""
    paired = all(values[name] == "" for name in _PAIRED)
    tallies: dict[str, Counter[str]] = {name: Counter() for name in FILTERS}
    skipped = set(_PAIRED) if paired else {"+".join(_PAIRED)}
    for key, statement in statements.items():
        if key in skipped:
            continue
        names = key.split("+")
        for *found, count in session.execute(statement, values):
            for name, value in zip(names, found, strict=True):
                tallies[name][str(value)] += count
    counts = {name: dict(tally) for name, tally in tallies.items()}
    for group, statuses in GROUPS.items():
        counts["status"][group] = sum(counts["status"].get(status, 0) for status in statuses)
    return counts


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)] or [[]]


def _shown(session: Session, keys: list[tuple[int, int]], now: datetime) -> list[Row]:
    """The rows of ``keys`` (kind, id), in that order."""
    draft_ids = [row_id for kind, row_id in keys if kind == _KIND_ORDER["draft"]]
    item_ids = [row_id for kind, row_id in keys if kind == _KIND_ORDER["data_quality"]]
    drafts = {
        draft.id: draft
        for chunk in _chunks(draft_ids)
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
                DraftRow.owner_id,
                DraftRow.created_at,
                DraftRow.row_version,
            ).where(DraftRow.id.in_(chunk))
        )
    }
    items = {
        item.id: item
        for chunk in _chunks(item_ids)
        for item in session.execute(
            select(
                DataQualityItemRow.id,
                DataQualityItemRow.reasons,
                DataQualityItemRow.raw,
                DataQualityItemRow.reference,
                DataQualityItemRow.deadline,
                DataQualityItemRow.blocks,
                DataQualityItemRow.owner_id,
                DataQualityItemRow.created_at,
            ).where(DataQualityItemRow.id.in_(chunk))
        )
    }
    claimed = {
        draft.id: draft.claimed_by
        for draft in drafts.values()
        if draft.claimed_by is not None and draft.claimed_until and draft.claimed_until > now
    }
    people = {*claimed.values(), *(row.owner_id for row in [*drafts.values(), *items.values()] if row.owner_id)}
    names = dict(session.execute(select(UserRow.id, UserRow.display_name).where(UserRow.id.in_(people))).all())
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
                    names.get(draft.owner_id) if draft.owner_id else None,
                    draft.owner_id,
                    draft.created_at,
                    draft.row_version,
                    historic=historic_backlog(draft.deadline, draft.created_at),
                )
            )
        else:
            item = items[row_id]
            left, state = time_left(item.deadline, now)
            reasons = "; ".join(plain_reason(str(reason), item.raw or {}) for reason in item.reasons)
            rows.append(
                Row(
                    "data_quality",
                    item.id,
                    "data_quality",
                    (f"{reasons} (holds up {item.blocks})" if item.blocks else reasons)[:200],
                    item.reference or "-",
                    "a person at VHub",
                    None,
                    None,
                    "awaiting_review",
                    item.deadline,
                    left,
                    state,
                    None,
                    True,
                    names.get(item.owner_id) if item.owner_id else None,
                    item.owner_id,
                    item.created_at,
                )
            )
    return rows


def clean_filters(filters: dict[str, str]) -> dict[str, str]:
    """Every filter, each a value it takes or "" (any); the status is "to_do" unless another is chosen."""
    cleaned = {name: filters.get(name, "") if filters.get(name, "") in CHOICES[name] else "" for name in FILTERS}
    cleaned["status"] = cleaned["status"] or "to_do"
    return cleaned


def queue_page(
    session: Session,
    filters: dict[str, str],
    page: int,
    now: datetime,
    *,
    me: int | None = None,
    search: str | None = None,
    sort: str = "deadline",
    descending: bool = False,
) -> QueuePage:
    """One page of the queue as ``me`` (a user id, for "my items") sees it, with ``search`` applied if given."""
    filters = clean_filters(filters)
    sort = sort if sort in SORTS else "deadline"
    search = search.strip() if search and not search_problem(search) else None
    counts_statements, page_statement, _ = _statements(search is not None, sort, descending)
    counts = _counts(session, counts_statements, _values(filters, now, 1, me=me, search=search))
    # Every row has a type, so the type counts (taken with every other filter) hold the total.
    by_type = counts["type"]
    total = by_type.get(filters["type"], 0) if filters["type"] else sum(by_type.values())
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    keys = session.execute(page_statement, _values(filters, now, page, me=me, search=search))
    rows = _shown(session, [(kind, row_id) for kind, row_id, *_ in keys], now)
    return QueuePage(rows, total, page, pages, filters, counts, sort, descending, search)


def queue_rows(
    session: Session,
    filters: dict[str, str],
    now: datetime,
    *,
    me: int | None = None,
    search: str | None = None,
    sort: str = "deadline",
    descending: bool = False,
) -> list[Row]:
    """Every row of the view, in its order (what an export of the view holds)."""
    filters = clean_filters(filters)
    sort = sort if sort in SORTS else "deadline"
    search = search.strip() if search and not search_problem(search) else None
    ordered = _statements(search is not None, sort, descending)[2]
    keys = session.execute(ordered, _values(filters, now, 1, me=me, search=search))
    return _shown(session, [(kind, row_id) for kind, row_id, *_ in keys], now)


def options() -> dict[str, Any]:
    return {
        "types": TYPES,
        "statuses": STATUSES,
        "risks": tuple(RISK_RANK),
        "authorities": AUTHORITIES,
        "owners": OWNERS,
        "sorts": SORTS,
    }
