"""The review queue labels the historic backlog beside its deadline."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.review.support import ReviewApp, draft_row
from vhub.store.tables import utcnow


def test_a_draft_due_long_before_it_was_made_says_historic_backlog_beside_its_deadline(review_app: ReviewApp) -> None:
    """A draft made a month after its deadline shows "historic backlog" under the deadline; one the night made
    overdue by hours does not, though both are overdue."""
    now = utcnow()
    with review_app.db.session() as session:
        old = draft_row(201, deadline=now - timedelta(days=300), created_at=now - timedelta(minutes=5))
        night = draft_row(202, deadline=now - timedelta(hours=3), created_at=now - timedelta(minutes=5))
        session.add_all([old, night])
        session.flush()
        ids = {"old": old.id, "night": night.id}
    reviewer = review_app.visitor("reviewer")
    html = reviewer.client.get("/queue", params={"overdue": "yes"}).text
    rows = {
        draft_id: row
        for row in re.findall(r'<tr class="queue-row".*?</tr>', html, re.DOTALL)
        for draft_id in re.findall(r'href="/drafts/(\d+)"', row)
    }
    deadline_cells = {
        name: re.findall(r'<td class="deadline">.*?</td>', rows[str(draft_id)], re.DOTALL)
        for name, draft_id in ids.items()
    }
    assert ['<div class="muted">historic backlog</div>' in cell for cell in deadline_cells["old"]] == [True]
    assert ["historic backlog" in cell for cell in deadline_cells["night"]] == [False]
    assert "overdue" in rows[str(ids["night"])] and "overdue" in rows[str(ids["old"])]
