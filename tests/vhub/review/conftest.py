"""Review-core fixtures: a migrated store with accounts and drafts, and real Redis for the submit queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis

from vhub.queues import Jobs
from vhub.review.accounts import User, add_user
from vhub.store import Database
from vhub.store.tables import DraftRow

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PASSWORDS = {  # synthetic, and strong enough for the password rules
    "alex": "lantern-orbit-maple-71",
    "sam": "quarry-violet-tundra-48",
    "admin": "harbour-pixel-ember-93",
}


@pytest.fixture
def users(db: Database) -> dict[str, User]:
    with db.session() as session:
        return {
            "alex": add_user(session, "alex", PASSWORDS["alex"], "reviewer", "Alex Reviewer"),
            "sam": add_user(session, "sam", PASSWORDS["sam"], "reviewer", "Sam Reviewer"),
            "admin": add_user(session, "admin", PASSWORDS["admin"], "admin", "Admin"),
        }


@pytest.fixture
def make_draft(db: Database) -> Callable[..., int]:
    counter = iter(range(1, 1000))

    def make(**changes: Any) -> int:
        number = next(counter)
        values: dict[str, Any] = {
            "dedupe_key": f"encompass|OCC/26/{number:06d}|N100003|-",
            "workflow": "encompass",
            "source_ref": f"OCC/26/{number:06d}",
            "subject": "N100003",
            "title": "Operation Encompass notice — Brookfield Primary School",
            "recipient": {"kind": "school", "name": "Brookfield Primary School"},
            "recipient_name": "Brookfield Primary School",
            "authority": "herefordshire",
            "policy": "minimised",
            "risk": "amber",
            "priority": "default",
            "deadline": NOW + timedelta(hours=10),
            "reasons": ["Risk amber: score 60"],
            "payload": {"child": "N100003"},
            "text": "Notice text.",
        }
        values.update(changes)
        with db.session() as session:
            draft = DraftRow(**values)
            session.add(draft)
            session.flush()
            return draft.id

    return make


@pytest.fixture
def jobs(redis_client: Redis) -> Iterator[Jobs]:
    yield Jobs(redis_client)
