"""Through the pages: what two people approved is what is sent, edits are of what is sent, sent drafts are read."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from rq import Queue
from sqlalchemy import select

from tests.review.support import ReviewApp, Visitor
from vhub.drafting.payloads import EncompassMinimisedNotice
from vhub.queues import SERIALIZER
from vhub.store.tables import DecisionRow, DraftRow

NOTICE = EncompassMinimisedNotice(  # every field of a minimised notice is sent to the school; stored as drafted
    child_name="Jamie Synthetic",
    date_of_birth=date(2016, 5, 4),
    occurred_at=datetime(2026, 11, 26, 21, 40, tzinfo=UTC),
    present=True,
    welfare_check_made=False,
).model_dump(mode="json")
FORM = {  # the same notice as the page's inputs send it
    "child_name": "Jamie Synthetic",
    "date_of_birth": "2016-05-04",
    "occurred_at": "2026-11-26T21:40:00",
    "present": "yes",
    "welfare_check_made": "no",
}


def red_notice(review_app: ReviewApp) -> int:
    """The red-risk draft of the store as a minimised notice whose fields are edited in the page."""
    draft_id = review_app.ids["other_draft"]
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        draft.policy, draft.payload = "minimised", NOTICE
    return draft_id


def decide(visitor: Visitor, draft_id: int, action: str, **fields: str) -> Any:
    """Open the draft (as a person would, which claims it), then post the action with the page's version."""
    page = visitor.client.get(f"/drafts/{draft_id}").text
    version = re.search(r'name="row_version" value="(\d+)"', page)
    assert version is not None, "the page offers no decision"
    data = {"csrf_token": visitor.csrf, "row_version": version.group(1), "action": action, **FORM, **fields}
    return visitor.client.post(f"/drafts/{draft_id}/decide", data=data)


def submit_jobs(review_app: ReviewApp) -> list[str]:
    return Queue("submit", connection=review_app.ctx.jobs.connection, serializer=SERIALIZER).job_ids


def test_a_rewrite_by_the_second_approver_is_not_sent_on_the_first_approval(review_app: ReviewApp) -> None:
    """Alex approves a red notice; Sam changes a field and presses Approve: nothing is queued, the draft waits for
    a second person, and Alex then sees exactly what Sam changed since the first approval."""
    draft_id = red_notice(review_app)
    alex, sam = review_app.visitor("reviewer"), review_app.visitor("second")
    assert 303 == decide(alex, draft_id, "approve").status_code
    answer = decide(sam, draft_id, "approve", child_name="Jamie Rewritten")
    assert "done=awaiting_second_approval" in answer.headers["location"]
    assert [] == submit_jobs(review_app)
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        assert ("awaiting_review", "Jamie Rewritten", 2) == (
            draft.status,
            draft.payload["child_name"],
            draft.content_version,
        )
    page = alex.client.get(f"/drafts/{draft_id}").text
    changes = page[page.index('id="changes"') : page.index("</section>", page.index('id="changes"'))]
    assert "Changed since the first approval (Alex Reviewer" in changes
    assert "payload.child_name" in changes and "Jamie Synthetic" in changes and "Jamie Rewritten" in changes
    assert 303 == decide(alex, draft_id, "approve", child_name="Jamie Rewritten").status_code
    assert 1 == len(submit_jobs(review_app))
    with review_app.db.session() as session:
        versions = session.scalars(
            select(DecisionRow.content_version).where(DecisionRow.decision.in_(("first_approval", "approved")))
        ).all()
    assert [1, 2, 2] == versions


def test_a_sent_draft_is_read_only_in_the_page(review_app: ReviewApp) -> None:
    """Once sent, every input sits in a disabled fieldset and no decision button is offered."""
    draft_id = red_notice(review_app)
    with review_app.db.session() as session:
        session.get_one(DraftRow, draft_id).status = "sent"
    page = review_app.visitor("reviewer").client.get(f"/drafts/{draft_id}").text
    assert '<fieldset class="draft-fields" disabled>' in page
    assert 'name="child_name"' in page[page.index('class="draft-fields"') :]
    assert 'name="action"' not in page


def test_text_that_is_not_sent_is_not_offered_for_editing(review_app: ReviewApp) -> None:
    """An Encompass notice's text is a summary the school never receives: it is not an input, and a posted text
    changes nothing, while the fields that are sent are edited."""
    draft_id = red_notice(review_app)
    reviewer = review_app.visitor("reviewer")
    page = reviewer.client.get(f"/drafts/{draft_id}").text
    assert 'name="text"' not in page
    assert "Text the recipient will read" not in page
    assert "not sent: the portal receives the fields above" in page
    assert 303 == decide(reviewer, draft_id, "save", text="Edited text nobody receives", present="no").status_code
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        assert ("Synthetic notice text.", False) == (draft.text, draft.payload["present"])


def test_fields_that_cannot_be_edited_are_not_inputs(review_app: ReviewApp) -> None:
    """A draft whose fields are sent as drafted shows them as text, saying how to change them, with no inputs."""
    draft_id = review_app.ids["draft"]  # a notice with no Encompass policy: its fields are shown, not edited
    page = review_app.visitor("reviewer").client.get(f"/drafts/{draft_id}").text
    assert 'id="not-editable"' in page
    assert 'name="school"' not in page


def test_a_megabyte_pasted_into_a_field_is_refused_and_nothing_saved(review_app: ReviewApp) -> None:
    """A value longer than any record keeps is marked on its field (422); the stored draft is unchanged."""
    draft_id = red_notice(review_app)
    answer = decide(review_app.visitor("reviewer"), draft_id, "save", child_name="x" * 1_000_000)
    assert 422 == answer.status_code
    assert "longer than 20000 characters" in answer.text
    assert len(answer.text) < 100_000  # the page does not echo the megabyte back in full
    with review_app.db.session() as session:
        assert NOTICE == session.get_one(DraftRow, draft_id).payload


def test_an_approved_draft_is_taken_back_from_its_page(review_app: ReviewApp) -> None:
    """An approved draft waiting to be sent offers "Take back to review"; with a reason it is back in review."""
    draft_id = review_app.ids["draft"]
    reviewer = review_app.visitor("reviewer")
    assert 303 == decide(reviewer, draft_id, "approve").status_code
    page = reviewer.client.get(f"/drafts/{draft_id}").text
    assert 'id="take-back-form"' in page
    version = re.search(r'id="take-back-form".*?name="row_version" value="(\d+)"', page, re.DOTALL)
    assert version is not None
    data = {"csrf_token": reviewer.csrf, "row_version": version.group(1), "action": "take_back", "reason": "wrong DSL"}
    answer = reviewer.client.post(f"/drafts/{draft_id}/decide", data=data)
    assert "done=taken_back" in answer.headers["location"]
    with review_app.db.session() as session:
        assert "awaiting_review" == session.get_one(DraftRow, draft_id).status
