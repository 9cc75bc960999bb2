"""The draft's life: only the moves its state machine allows, each one versioned and audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from vhub.store import Database
from vhub.store.draft_status import ALLOWED, DraftStatus, IllegalMove, move
from vhub.store.tables import AuditEventRow, DraftRow

pytestmark = pytest.mark.both_engines


@pytest.fixture
def new_draft(db: Database) -> Callable[[str], int]:
    def make(status: str) -> int:
        with db.session() as session:
            row = DraftRow(
                dedupe_key=f"marac|OCC/26/000001|N1|{status}",
                workflow="marac",
                source_ref="OCC/26/000001",
                subject="N1",
                title="MARAC referral",
                recipient={"kind": "marac"},
                recipient_name="Herefordshire MARAC",
                priority="default",
                reasons=[],
                payload={},
                text="",
                status=status,
            )
            session.add(row)
            session.flush()
            return row.id

    return make


@pytest.mark.parametrize(
    ("start", "to"),
    [(start, to) for start in DraftStatus for to in DraftStatus if to not in ALLOWED[start]],
)
def test_a_move_the_life_does_not_allow_changes_nothing(
    db: Database, new_draft: Callable[[str], int], start: DraftStatus, to: DraftStatus
) -> None:
    """A sent draft back to review, a rejected one approved...: refused, and no version or audit event written."""
    draft_id = new_draft(start.value)
    with pytest.raises(IllegalMove, match=f"from {start.value} to {to.value}"), db.session() as session:
        move(session, session.get_one(DraftRow, draft_id), to, actor="test", action="draft.test")
    with db.session() as session:
        row = session.get_one(DraftRow, draft_id)
        assert (start.value, 1) == (row.status, row.row_version)
        assert [] == session.scalars(select(AuditEventRow)).all()


def test_an_allowed_move_bumps_the_version_and_audits_before_and_after(
    db: Database, new_draft: Callable[[str], int]
) -> None:
    """awaiting_review -> approved: the status, one more version, and an event naming both statuses."""
    draft_id = new_draft("awaiting_review")
    with db.session() as session:
        row = session.get_one(DraftRow, draft_id)
        move(session, row, DraftStatus.APPROVED, actor="alex", action="draft.approved", after={"approvals": 1})
    with db.session() as session:
        row = session.get_one(DraftRow, draft_id)
        event = session.scalars(select(AuditEventRow)).one()
        assert ("approved", 2) == (row.status, row.row_version)
        assert ("alex", "draft.approved", str(draft_id)) == (event.actor, event.action, event.entity_id)
        assert ({"status": "awaiting_review"}, {"status": "approved", "approvals": 1}) == (event.before, event.after)


def test_only_the_state_machine_assigns_a_draft_status() -> None:
    """No product module sets a draft's status or bumps its row_version by hand: every caller goes through move()."""
    root = Path(__file__).resolve().parents[3]
    pattern = re.compile(r"\b(draft|other|old)\.(status\s*=[^=]|row_version\s*\+=)")  # how drafts are named
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for package in ("vhub", "tasks", "bots")
        for path in (root / package).rglob("*.py")
        if path.name != "draft_status.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert [] == offenders
