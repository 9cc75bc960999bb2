"""A draft the partner's form cannot hold as it stands goes back to review with the bot's reason, like a refusal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

import tasks.submit
from bots.submission import DraftNotSendable, Submission
from tasks.submit import submit_draft
from tests.tasks.test_submit_task import approved_red_draft
from vhub import context
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.tables import AuditEventRow, DraftRow, SubmissionRow

REASON = "the draft says not known for consent given, but the portal's form can only say yes or no there"


class _CannotHold:
    """A referral bot meeting a checkbox where the draft says "not known"."""

    def deliver(self, submission: Submission) -> tuple[str, bool]:
        raise DraftNotSendable("Herefordshire MASH portal", REASON)


@pytest.fixture
def ctx(settings: Settings, db: Database, redis_url: str) -> Iterator[context.AppContext]:
    configured = context.configure(settings.model_copy(update={"redis_url": redis_url}))
    yield configured
    configured.db.dispose()


def test_a_draft_the_portal_cannot_hold_returns_to_review_with_the_reason(
    ctx: context.AppContext, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing sent: the draft awaits review again, needing attention with the reason, its approvals to give again;
    the submission is marked refused and the move audited."""
    draft_id = approved_red_draft(db, [("alex", 1), ("sam", 1)], 1)

    def bot(*args: Any) -> _CannotHold:
        return _CannotHold()

    monkeypatch.setattr(tasks.submit, "submission_bot", bot)
    assert "not sendable as drafted" == submit_draft(draft_id)["outcome"]
    with db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).one()
        assert ("awaiting_review", True, 2) == (draft.status, draft.needs_attention, draft.content_version)
        assert REASON in (draft.attention_reason or "")
        assert (draft.attention_reason or "").startswith("Not sent: ")  # not called a partner's refusal
        assert ("rejected", REASON) == (row.status, row.last_error)
        assert 1 == len(
            session.scalars(select(AuditEventRow).where(AuditEventRow.action == "draft.not_sendable")).all()
        )
