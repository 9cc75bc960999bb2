"""The store's concurrency rules with two transactions really in flight at once, on SQLite and PostgreSQL: the row
lock a claim, an approval and a submission take, and the unique keys behind drafting and sending exactly once.

Each test holds one transaction open, starts the second in a thread, waits until the database makes it wait (on
PostgreSQL: a lock it has not been granted; on SQLite the second waits for the write lock as it begins), then
commits the first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import func, select, text

from tasks.submit import _prepare
from vhub import context
from vhub.queues import Jobs
from vhub.review.accounts import User, add_user
from vhub.review.decisions import Conflict, approve, claim
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.drafts import save_draft
from vhub.store.tables import AuditEventRow, DecisionRow, DraftRow, SubmissionRow, utcnow

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def draft_row(key: str = "encompass|OCC/26/000001|N100003|-", **changes: Any) -> DraftRow:
    values: dict[str, Any] = {
        "dedupe_key": key,
        "workflow": "encompass",
        "source_ref": "OCC/26/000001",
        "subject": "N100003",
        "title": "Operation Encompass notice",
        "recipient": {"kind": "school", "name": "Brookfield Primary School"},
        "recipient_name": "Brookfield Primary School",
        "authority": "herefordshire",
        "policy": "minimised",
        "risk": "amber",
        "priority": "default",
        "reasons": [],
        "payload": {"child": "N100003"},
        "text": "Notice text.",
    }
    return DraftRow(**{**values, **changes})


class Second:
    """The second transaction, run in a thread: what it returned or raised."""

    def __init__(self, action: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self._thread.start()

    def _run(self, action: Callable[[], Any]) -> None:
        self.started.set()
        try:
            self.result = action()
        except BaseException as error:  # handed to the test, which asserts on it
            self.error = error

    def join(self) -> None:
        self._thread.join(60)
        assert not self._thread.is_alive(), "the second transaction never finished"


def wait_until_made_to_wait(db: Database, *others: Second) -> None:
    """Until the database holds the other transactions back behind the first."""
    assert all(other.started.wait(10) for other in others)
    if db.engine.dialect.name != "postgresql":
        time.sleep(0.5)  # each waits for SQLite's write lock as it begins, whenever it gets there
        return
    deadline = time.monotonic() + 30
    with db.engine.connect() as watcher:
        while watcher.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar_one() < len(others):
            watcher.rollback()
            if time.monotonic() > deadline:
                pytest.fail("the second transaction was never made to wait for the first")
            time.sleep(0.05)


@pytest.fixture
def people(db: Database) -> dict[str, User]:
    with db.session() as session:
        return {
            name: add_user(session, name, "lantern-orbit-maple-71", "reviewer", f"{name.title()} Reviewer")
            for name in ("alex", "sam")
        }


@pytest.fixture
def jobs(redis_client: Redis) -> Iterator[Jobs]:
    yield Jobs(redis_client)


def test_two_people_approving_one_draft_at_once_make_one_approval(
    db: Database, people: dict[str, User], jobs: Jobs
) -> None:
    """The second approval waits for the first (the draft's row is locked) and is then refused as a conflict: one
    decision, one submission queued."""
    with db.session() as session:
        draft = draft_row()
        session.add(draft)
        session.flush()
        draft_id, row_version = draft.id, draft.row_version

    def approve_as(name: str) -> Any:
        with db.session() as session:
            return approve(
                session, draft_id, people[name], row_version, now=utcnow(), jobs=jobs, second_approver_for_red=False
            )

    with db.session() as session:
        approve(session, draft_id, people["alex"], row_version, now=utcnow(), jobs=jobs, second_approver_for_red=False)
        second = Second(lambda: approve_as("sam"))
        wait_until_made_to_wait(db, second)
    second.join()
    with db.session() as session:
        decisions = session.scalars(select(DecisionRow.user_id).where(DecisionRow.draft_id == draft_id)).all()
        status = session.get_one(DraftRow, draft_id).status
    assert isinstance(second.error, Conflict), second.error
    assert ([people["alex"].id], "approved", 1) == (list(decisions), status, jobs.queue("submit").count)


def test_two_people_opening_one_draft_at_once_do_not_both_claim_it(db: Database, people: dict[str, User]) -> None:
    """The second claim waits for the first (the draft's row is locked), then names the person who holds it."""
    with db.session() as session:
        draft = draft_row()
        session.add(draft)
        session.flush()
        draft_id = draft.id

    def claim_as(name: str) -> str | None:
        with db.session() as session:
            return claim(session, session.get_one(DraftRow, draft_id), people[name], now=utcnow(), minutes=10)

    with db.session() as session:
        first = claim(session, session.get_one(DraftRow, draft_id), people["alex"], now=utcnow(), minutes=10)
        session.flush()
        second = Second(lambda: claim_as("sam"))
        wait_until_made_to_wait(db, second)
    second.join()
    with db.session() as session:
        holder = session.get_one(DraftRow, draft_id).claimed_by
    assert (None, None, "Alex Reviewer", people["alex"].id) == (first, second.error, second.result, holder)


def test_one_draft_saved_by_two_workers_at_once_is_stored_once(db: Database) -> None:
    """The second insert of the same dedupe key waits on the unique key, then returns the first's draft: one row,
    one draft.created event."""
    with db.session() as session:
        first, created = save_draft(session, draft_row())
        second = Second(lambda: _save_in_own_session(db))
        wait_until_made_to_wait(db, second)
        first_id = first.id
    second.join()
    with db.session() as session:
        stored = session.scalars(select(DraftRow.id)).all()
        events = session.scalar(select(func.count(AuditEventRow.id)).where(AuditEventRow.action == "draft.created"))
    assert second.error is None, second.error
    assert ([first_id], (True, False), first_id, 1) == (
        list(stored),
        (created, second.result[1]),
        second.result[0],
        events,
    )


def _save_in_own_session(db: Database) -> tuple[int, bool]:
    with db.session() as session:
        row, created = save_draft(session, draft_row())
        return row.id, created


def test_two_submit_jobs_of_one_draft_at_once_fix_one_key(settings: Settings, db: Database, redis_url: str) -> None:
    """The second job's preparation waits for the first's (the draft's row is locked) and finds its submission: one
    row, one key, two attempts counted."""
    ctx = context.configure(
        settings.model_copy(update={"redis_url": redis_url, "review_second_approver_for_red": False})
    )
    try:
        with db.session() as session:
            draft = draft_row(status="approved")
            session.add(draft)
            session.flush()
            user = add_user(session, "alex", "lantern-orbit-maple-71", "reviewer")
            session.add(
                DecisionRow(draft_id=draft.id, user_id=user.id, decision="approved", row_version=1, content_version=1)
            )
            draft_id = draft.id
        with db.session() as session:
            session.scalars(select(DraftRow).where(DraftRow.id == draft_id).with_for_update()).one()
            first, second = Second(lambda: _prepare(draft_id)), Second(lambda: _prepare(draft_id))
            wait_until_made_to_wait(db, first, second)
        first.join()
        second.join()
        with db.session() as session:
            rows = session.scalars(select(SubmissionRow)).all()
    finally:
        ctx.db.dispose()
    assert (None, None) == (first.error, second.error)
    assert first.result[0].key == second.result[0].key
    assert ([draft_id], [2]) == ([row.draft_id for row in rows], [row.attempts for row in rows])
