"""The submit job sends only a version that the required people approved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tasks.submit import submit_draft
from vhub import context
from vhub.review.accounts import add_user
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.tables import AuditEventRow, DecisionRow, DraftRow, SubmissionRow


@pytest.fixture
def ctx(settings: Settings, db: Database, redis_url: str) -> Iterator[context.AppContext]:
    configured = context.configure(settings.model_copy(update={"redis_url": redis_url}))
    yield configured
    configured.db.dispose()


def approved_red_draft(db: Database, approvals: list[tuple[str, int]], content_version: int) -> int:
    """A red referral marked approved, with these (person, content version) approvals on record."""
    with db.session() as session:
        draft = DraftRow(
            dedupe_key="referral|OCC/26/000001|N100003|-",
            workflow="referral",
            source_ref="OCC/26/000001",
            subject="N100003",
            title="Referral",
            recipient={"kind": "local_authority", "authority": "herefordshire"},
            recipient_name="Herefordshire MASH",
            risk="red",
            priority="high",
            reasons=[],
            payload={},
            text="",
            status="approved",
            content_version=content_version,
        )
        session.add(draft)
        session.flush()
        for name, version in approvals:
            user = add_user(session, name, "cobalt-meadow-lantern-29", "reviewer")
            session.add(
                DecisionRow(
                    draft_id=draft.id, user_id=user.id, decision="approved", row_version=1, content_version=version
                )
            )
        return draft.id


@pytest.mark.parametrize(
    ("approvals", "content_version"),
    [
        ([("alex", 1)], 1),  # one person, where red risk needs two
        ([("alex", 1), ("sam", 1)], 2),  # two people, but of a version since edited
    ],
)
def test_a_version_without_its_approvals_is_not_sent(
    ctx: context.AppContext, db: Database, approvals: list[tuple[str, int]], content_version: int
) -> None:
    """The job refuses before any portal is touched; the draft goes back to review, saying why, and is audited."""
    draft_id = approved_red_draft(db, approvals, content_version)
    assert "not approved in this version" == submit_draft(draft_id)["outcome"]
    with db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        assert ("awaiting_review", True) == (draft.status, draft.needs_attention)
        assert "of the 2 approvals it needs" in (draft.attention_reason or "")
        assert [] == session.scalars(select(SubmissionRow)).all()
        assert 1 == len(
            session.scalars(select(AuditEventRow).where(AuditEventRow.action == "draft.approval_missing")).all()
        )
