"""The review queue and the dashboard with many drafts: filtered, counted, ordered and paged in SQL, reading only
the rows a page shows, and every page read without waiting for the store's write lock."""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from tests.conftest import ON_SQLITE_ONLY
from tests.review.support import ReviewApp, data_quality_row, draft_row
from vhub.review import dashboard, web
from vhub.review.queue import CHOICES, FILTERS, GROUPS, PAGE_SIZE, TO_DO, queue_page, queue_rows, time_left
from vhub.store import Database
from vhub.store.tables import DataQualityItemRow, DraftRow, UserRow, WebSessionRow, utcnow

NOW = datetime.fromisoformat("2026-11-27T10:00:00+00:00")
WORKFLOWS = ("referral", "encompass", "marac", "isr_response")
AUTHORITIES = ("herefordshire", "worcestershire", "shropshire", "telford_wrekin", None)
RISKS = ("red", "amber", "green", "blue", None)
STATUSES = ("awaiting_review", "awaiting_review", "returned", "approved", "sent", "rejected", "superseded")
DEADLINES = (None, -timedelta(days=3), -timedelta(minutes=5), timedelta(hours=1), timedelta(hours=1), timedelta(days=2))


def seed(session: Session, drafts: int, items: int, rng: random.Random) -> None:
    """Synthetic drafts over every combination that matters (equal deadlines included) and data-quality items."""
    user = UserRow(username="sam.reviewer", display_name="Sam Reviewer", role="reviewer", password_hash="-")
    other = UserRow(username="alex.reviewer", display_name="Alex Reviewer", role="reviewer", password_hash="-")
    session.add_all([user, other])
    session.flush()
    for number in range(1, drafts + 1):
        status = rng.choice(STATUSES)
        offset = rng.choice(DEADLINES)
        session.add(
            draft_row(
                number,
                workflow=rng.choice(WORKFLOWS),
                authority=rng.choice(AUTHORITIES),
                risk=rng.choice(RISKS),
                status=status,
                deadline=None if offset is None else NOW + offset,
                first_approver=user.id if status == "awaiting_review" and rng.random() < 0.3 else None,
                claimed_by=user.id if rng.random() < 0.2 else None,
                owner_id=rng.choice((None, None, user.id, other.id)),
                claimed_until=NOW + rng.choice((timedelta(minutes=-1), timedelta(minutes=10))),
                created_at=NOW - timedelta(hours=rng.uniform(0, 24 * 9)),
            )
        )
    for number in range(1, items + 1):
        owner = rng.choice((None, user.id))
        session.add(data_quality_row(system_id=number, status=rng.choice(("open", "open", "resolved")), owner_id=owner))
    session.flush()


def owner(owner_id: int | None, me: int) -> str:
    return "none" if owner_id is None else "me" if owner_id == me else "other"


def every_row(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Every row of the queue, read into Python, as Sam Reviewer sees it."""
    me = session.scalars(select(UserRow.id).where(UserRow.username == "sam.reviewer")).one()
    names = dict(session.execute(select(UserRow.id, UserRow.display_name)).all())
    rows = []
    for d in session.scalars(select(DraftRow).where(DraftRow.status != "superseded")):
        claimed = d.claimed_by if d.claimed_until and d.claimed_until > now else None
        status = "second_approval" if d.status == "awaiting_review" and d.first_approver is not None else d.status
        rows.append(
            {
                "kind": "draft",
                "id": d.id,
                "type": d.workflow,
                "authority": d.authority,
                "risk": d.risk,
                "status": status,
                "deadline": d.deadline,
                "state": time_left(d.deadline, now)[1],
                "reviewer": names.get(claimed) if claimed else None,
                "owner": owner(d.owner_id, me),
            }
        )
    for item in session.scalars(select(DataQualityItemRow).where(DataQualityItemRow.status == "open")):
        rows.append(
            {
                "kind": "data_quality",
                "id": item.id,
                "type": "data_quality",
                "authority": None,
                "risk": None,
                "status": "awaiting_review",
                "deadline": None,
                "state": "no deadline",
                "reviewer": None,
                "owner": owner(item.owner_id, me),
            }
        )
    return rows


def reference_page(rows: list[dict[str, Any]], filters: dict[str, str], page: int, now: datetime) -> dict[str, Any]:
    """What the queue shows, worked out the plain way from every row: filtered, counted, sorted and sliced in
    Python. The queue must show exactly this."""
    # A value a filter does not take is "any"; by default, the status is what waits for a person.
    filters = {name: value if value in CHOICES[name] else "" for name, value in filters.items()}
    filters = {**filters, "status": filters.get("status") or "to_do"}

    def matches(row: dict[str, Any], skip: str | None = None) -> bool:
        for name, value in filters.items():
            if name == skip or not value:
                continue
            if name == "overdue":
                if (value == "yes") != (row["state"] == "overdue"):
                    return False
            elif name == "status" and value in GROUPS:
                if row["status"] not in GROUPS[value]:
                    return False
            elif str(row[name] or "") != value:
                return False
        return True

    counts = {}
    for name in FILTERS:
        others = [row for row in rows if matches(row, skip=name)]
        if name == "overdue":
            counts[name] = Counter("yes" if row["state"] == "overdue" else "no" for row in others)
        else:
            counts[name] = Counter(str(row[name] or "") for row in others)
    for group, statuses in GROUPS.items():
        counts["status"][group] = sum(counts["status"][status] for status in statuses)
    risk_rank = {"red": 0, "amber": 1, "green": 2, "blue": 3}
    chosen = sorted(
        (row for row in rows if matches(row)),
        key=lambda r: (r["deadline"] is None, r["deadline"] or now, risk_rank.get(r["risk"], 4), r["kind"], r["id"]),
    )
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return {
        "rows": [(r["kind"], r["id"], r["status"], r["state"], r["reviewer"]) for r in shown],
        "total": len(chosen),
        "page": page,
        "pages": pages,
        "counts": {name: {value: n for value, n in found.items() if n} for name, found in counts.items()},
    }


def shown(session: Session, filters: dict[str, str], page: int, now: datetime) -> dict[str, Any]:
    me = session.scalars(select(UserRow.id).where(UserRow.username == "sam.reviewer")).one()
    result = queue_page(session, filters, page, now, me=me)
    return {
        "rows": [(r.kind, r.id, r.status, r.state, r.reviewer) for r in result.rows],
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "counts": {name: {value: n for value, n in found.items() if n} for name, found in result.counts.items()},
    }


@pytest.fixture
def many(db: Database) -> Iterator[Session]:
    """A session over 240 synthetic drafts and 30 data-quality items."""
    with db.session() as session:
        seed(session, 240, 30, random.Random(20261127))
        yield session


def test_filtered_pages_show_what_reading_every_row_would_show(many: Session) -> None:
    """Across the filters' options, rows, order (deadline, then risk), status, state, reviewer, totals, pages and
    every count are what the plain way gives."""
    rows = every_row(many, NOW)
    pairs = list(itertools.product(("", "shropshire"), ("", "red")))  # authority and risk, in turn
    statuses = ("", "to_do", "open", "awaiting_review", "second_approval", "returned", "sent", "superseded")
    owners = ("", "me", "none", "other")
    for number, (kind, status, overdue) in enumerate(
        itertools.product(("", "referral", "data_quality"), statuses, ("", "yes", "no"))
    ):
        authority, risk = pairs[number % len(pairs)]
        filters = {"type": kind, "authority": authority, "risk": risk, "status": status, "overdue": overdue}
        filters["owner"] = owners[number % len(owners)]
        for page in (1, 2, 99):  # 99: past the last page, which shows the last
            assert reference_page(rows, filters, page, NOW) == shown(many, filters, page, NOW), (filters, page)


def test_the_first_pages_of_the_whole_queue_show_what_reading_every_row_would_show(many: Session) -> None:
    """With no filter (everything waiting for a person), each page in turn is the plain way's page."""
    rows, pages = every_row(many, NOW), shown(many, {}, 1, NOW)["pages"]
    assert pages > 2
    for page in range(1, pages + 1):
        assert reference_page(rows, {}, page, NOW) == shown(many, {}, page, NOW)


def test_the_to_do_option_counts_everything_waiting_for_a_person(many: Session) -> None:
    """ "Waiting for a person (all)" counts the drafts awaiting a first or second approval and the open items."""
    counts = queue_page(many, {"status": "sent"}, 1, NOW).counts["status"]
    assert counts["awaiting_review"] + counts["second_approval"] == counts["to_do"]
    assert queue_page(many, {}, 1, NOW).total == counts["to_do"]


def largest_result(session: Session, read: Callable[[], object]) -> int:
    """The most rows any one statement returned to Python while ``read`` ran."""
    sizes: list[int] = []

    def count(state: ORMExecuteState) -> Any:
        result = state.invoke_statement().freeze()
        sizes.append(len(result().all()))
        return result()

    event.listen(session, "do_orm_execute", count)
    try:
        read()
    finally:
        event.remove(session, "do_orm_execute", count)
    return max(sizes)


def test_a_queue_page_reads_only_the_rows_it_shows(many: Session) -> None:
    """However many drafts wait, no statement of a queue page returns more rows than a page holds."""
    assert PAGE_SIZE >= largest_result(many, lambda: queue_page(many, {}, 2, NOW))
    assert PAGE_SIZE >= largest_result(many, lambda: queue_page(many, {"status": "approved", "risk": "red"}, 1, NOW))


def test_the_dashboard_counts_in_the_store(many: Session) -> None:
    """No statement of the dashboard returns more rows than it has cells to show (counts come from GROUP BY)."""
    cells = max(len(dashboard.backlog(many)), dashboard.OLDEST, dashboard.DAYS)
    assert cells >= largest_result(many, lambda: dashboard.compute(many, NOW))


@pytest.fixture
def write_lock(review_app: ReviewApp) -> Iterator[Callable[[], sqlite3.Connection]]:
    """Hold the store's write lock from another connection (uncommitted), with the app giving up on a lock after
    a tenth of a second instead of 30 s."""
    held: list[sqlite3.Connection] = []

    def short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 100")

    event.listen(review_app.ctx.db.engine, "connect", short_wait)
    review_app.ctx.db.engine.dispose()

    def hold() -> sqlite3.Connection:
        holder = sqlite3.connect(Path(review_app.db.engine.url.database or ""), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE drafts SET title = 'being changed' WHERE id = ?", (review_app.ids["draft"],))
        held.append(holder)
        return holder

    yield hold
    for holder in held:
        holder.execute("ROLLBACK")
        holder.close()


@ON_SQLITE_ONLY  # SQLite's write lock
def test_pages_answer_while_another_connection_holds_the_write_lock(
    review_app: ReviewApp, write_lock: Callable[[], sqlite3.Connection]
) -> None:
    """Queue, dashboard, data-quality item and audit pages are read without the write lock: they answer while a
    worker is in the middle of a write, showing what was committed before it."""
    reviewer, admin = review_app.visitor("reviewer"), review_app.visitor("admin")
    write_lock()
    pages = ["/queue", "/queue?type=encompass&page=2", "/dashboard", "/dashboard/data", "/dashboard/fragment"]
    pages.append(f"/data-quality/{review_app.ids['item']}")
    answers = [reviewer.client.get(page) for page in pages] + [admin.client.get("/audit")]
    assert [200] * len(answers) == [answer.status_code for answer in answers]
    assert "being changed" not in answers[0].text


def test_a_request_moves_the_session_on_at_most_once_a_minute(
    review_app: ReviewApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within a minute of the last, a request leaves the session as it is (so it only reads); later, it keeps
    the session alive from that moment."""
    reviewer = review_app.visitor("reviewer")

    def last_seen() -> datetime | None:
        with review_app.db.session(read_only=True) as session:
            return session.scalars(select(WebSessionRow.last_seen_at).order_by(WebSessionRow.id.desc())).first()

    before = last_seen()
    assert before is not None
    monkeypatch.setattr(web, "utcnow", lambda: before + timedelta(seconds=50))
    assert 200 == reviewer.client.get("/queue").status_code
    assert before == last_seen()
    later = utcnow() + timedelta(minutes=2)
    monkeypatch.setattr(web, "utcnow", lambda: later)
    assert 200 == reviewer.client.get("/queue").status_code
    assert later == last_seen()


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort", ["deadline", "risk", "created", "type", "authority"])
def test_each_sort_orders_the_whole_view_as_sorting_every_row_would(many: Session, sort: str, descending: bool) -> None:
    """Sorted by a column, either way, the view's rows come in that column's order (rows without a value last),
    ties in the usual order (deadline, risk, data-quality items first, number)."""
    me = many.scalars(select(UserRow.id).where(UserRow.username == "sam.reviewer")).one()
    rows = {(row.kind, row.id): row for row in queue_rows(many, {"status": ""}, NOW, me=me)}
    drafts = {d.id: d for d in many.scalars(select(DraftRow))}
    items = {i.id: i for i in many.scalars(select(DataQualityItemRow))}
    risk_rank = {"red": 0, "amber": 1, "green": 2, "blue": 3}

    def usual(key: tuple[str, int]) -> tuple[Any, ...]:
        row = rows[key]
        return (row.deadline is None, row.deadline or NOW, risk_rank.get(row.risk or "", 4), row.kind, row.id)

    def value(key: tuple[str, int]) -> Any:
        kind, number = key
        source = drafts[number] if kind == "draft" else items[number]
        return {
            "deadline": rows[key].deadline,
            "risk": risk_rank.get(rows[key].risk or ""),
            "created": source.created_at,
            "type": rows[key].type,
            "authority": rows[key].authority,
        }[sort]

    expected = sorted(rows, key=usual)
    # Python's sort is stable either way: among equal values the usual order stays.
    valued = sorted((key for key in expected if value(key) is not None), key=value, reverse=descending)
    expected = valued + [key for key in expected if value(key) is None]
    shown = queue_rows(many, {"status": ""}, NOW, me=me, sort=sort, descending=descending)
    assert expected == [(row.kind, row.id) for row in shown]
    first = queue_page(many, {"status": ""}, 1, NOW, me=me, sort=sort, descending=descending)
    assert expected[:PAGE_SIZE] == [(row.kind, row.id) for row in first.rows]


def test_every_option_chosen_lists_the_count_it_showed(many: Session) -> None:
    """Each option of each filter lists as many rows as its count said ("Waiting for a person (all)" included), and a
    value the queue does not know is "any", shown and counted as such."""
    me = many.scalars(select(UserRow.id).where(UserRow.username == "sam.reviewer")).one()
    counts = queue_page(many, {}, 1, NOW, me=me).counts
    for name in FILTERS:
        for value in CHOICES[name]:
            assert counts[name].get(value, 0) == queue_page(many, {name: value}, 1, NOW, me=me).total, (name, value)
    unknown = queue_page(many, {"status": "bogus", "type": "nothing"}, 1, NOW, me=me)
    assert ("to_do", "") == (unknown.filters["status"], unknown.filters["type"])
    assert counts["status"]["to_do"] == unknown.total


def test_a_search_finds_by_number_reference_nominal_school_and_authority(many: Session) -> None:
    """A draft number, part of an incident reference, a nominal number, part of a school's name or an authority's
    name each find exactly the rows that carry it; a term too short is not applied."""
    drafts = list(many.scalars(select(DraftRow).where(DraftRow.status.in_(TO_DO))))
    target = drafts[0]
    many.execute(update(DraftRow).where(DraftRow.id == target.id).values(recipient_name="Oakfield Academy"))

    def found(term: str) -> set[int]:
        return {row.id for row in queue_rows(many, {"type": ""}, NOW, search=term) if row.kind == "draft"}

    assert {target.id} == found(f"#{target.id}")
    assert {d.id for d in drafts if d.source_ref == target.source_ref} == found(target.source_ref.lower())
    assert {d.id for d in drafts if d.subject == target.subject} == found(target.subject.lower())
    assert {target.id} == found("oakfield")
    assert {d.id for d in drafts if d.authority == "telford_wrekin"} == found("Telford")
    assert {d.id for d in drafts} == found("x")  # one character: no search
