"""The submit job masks the people of the draft it sends from its start, before any step can fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis

from tasks.submit import submit_draft
from tests.review.support import draft_row
from vhub import context, portals, redaction
from vhub.review.accounts import add_user
from vhub.review.decisions import approve
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.tables import utcnow

CHILD, SCHOOL = "Zoë Quartermaine", "Brookfield Primary School"


@pytest.fixture
def approved(settings: Settings, db: Database, redis_url: str, redis_client: Redis) -> Iterator[int]:
    """An amber Operation Encompass notice naming a child, approved by a reviewer; the school portal paused."""
    ctx = context.configure(settings.model_copy(update={"redis_url": redis_url}))
    with db.session() as session:
        draft = draft_row(1, payload={"child_name": CHILD, "school": SCHOOL})
        session.add(draft)
        session.flush()
        reviewer = add_user(session, "alex.reviewer", "lantern-orbit-maple-71", "reviewer", "Alex Reviewer")
        approve(
            session, draft.id, reviewer, draft.row_version, now=utcnow(), jobs=ctx.jobs, second_approver_for_red=False
        )
        draft_id = draft.id
    portals.pause(redis_client, "school_portal", "its pages changed")
    yield draft_id
    ctx.db.dispose()


def test_the_drafts_people_are_masked_even_when_nothing_is_sent(approved: int) -> None:
    """A submission held by a paused portal has still registered the child's name and school for masking."""
    submit_draft(approved)
    assert "[name] at [name]" == redaction.redact_text(f"{CHILD} at {SCHOOL}")
