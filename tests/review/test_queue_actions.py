"""The queue's actions through the app: search kept in the session, assigning, bulk approve and return under the
policy and the decision rules, reopening a returned draft."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from httpx import Response
from sqlalchemy import select

from tests.review.support import ReviewApp, Visitor, draft_row
from vhub.errors import BusinessError
from vhub.review.bulk import bulk_approval_allowed
from vhub.store.tables import AuditEventRow, DataQualityItemRow, DecisionRow, DraftRow, UserRow, WebSessionRow


@pytest.fixture
def policy_on(tmp_path: Path) -> Path:
    policy = tmp_path / "review.toml"
    policy.write_text("[bulk]\napprove_green_encompass = true\n")
    return policy


def add_drafts(review: ReviewApp, *drafts: DraftRow) -> list[int]:
    with review.db.session() as session:
        session.add_all(drafts)
        session.flush()
        return [draft.id for draft in drafts]


def draft(review: ReviewApp, draft_id: int) -> DraftRow:
    with review.db.session() as session:
        row = session.get_one(DraftRow, draft_id)
        session.expunge(row)
        return row


def post(visitor: Visitor, path: str, **data: str | list[str]) -> Response:
    return visitor.client.post(path, data={"csrf_token": visitor.csrf, **data})


def actions(review: ReviewApp, action: str) -> list[AuditEventRow]:
    with review.db.session() as session:
        rows = list(session.scalars(select(AuditEventRow).where(AuditEventRow.action == action)))
        session.expunge_all()
        return rows


def test_bulk_approval_approves_only_green_notices_each_through_the_decision_rules(
    make_app: Callable[..., ReviewApp], policy_on: Path
) -> None:
    """Green notices at the version seen are approved and queued as the person's own; red, a referral, a stale
    version, one another person has open and a data-quality item are each refused with why."""
    review = make_app(review_policy=policy_on)
    green, stale, held, referral = add_drafts(
        review,
        draft_row(201, risk="green"),
        draft_row(202, risk="green"),
        draft_row(203, risk="green"),
        draft_row(204, risk="green", workflow="referral", dedupe_key="referral:204"),
    )
    sam = review.visitor("second")
    assert 200 == sam.client.get(f"/drafts/{held}").status_code  # Sam has it open: claimed
    alex = review.visitor("reviewer")
    items = [
        f"draft:{green}:1",
        f"draft:{stale}:0",
        f"draft:{held}:{draft(review, held).row_version}",
        f"draft:{referral}:1",
        f"draft:{review.ids['other_draft']}:1",
        f"data_quality:{review.ids['item']}:0",
    ]
    answer = post(alex, "/queue/bulk", action="approve", item=items)
    assert 200 == answer.status_code
    text = answer.text
    assert "1 done, 5 refused" in text
    assert f"Draft #{stale} changed while you had it open" in text
    assert "Sam Reviewer is reviewing" in text
    assert "this is red risk" in text and "corrected or resolved on its own page" in text
    assert ["approved", "awaiting_review", "awaiting_review", "awaiting_review"] == [
        draft(review, n).status for n in (green, stale, held, referral)
    ]
    (event,) = actions(review, "draft.approved")
    assert ("alex.reviewer", str(green), True) == (event.actor, event.entity_id, event.after["bulk"])
    assert "awaiting_review" == draft(review, review.ids["other_draft"]).status


def test_bulk_approval_is_refused_when_policy_is_off_and_for_a_setting_that_is_not_true_or_false(
    review_app: ReviewApp, tmp_path: Path
) -> None:
    """As shipped, policy is off: a posted bulk approval approves nothing and says so; a policy file with a value
    that is not a boolean is named in the error."""
    green = add_drafts(review_app, draft_row(301, risk="green"))[0]
    answer = post(review_app.visitor("reviewer"), "/queue/bulk", action="approve", item=f"draft:{green}:1")
    assert 422 == answer.status_code
    assert "turned off by policy" in answer.text
    assert "awaiting_review" == draft(review_app, green).status
    bad = tmp_path / "review.toml"
    bad.write_text('[bulk]\napprove_green_encompass = "yes"\n')
    with pytest.raises(BusinessError, match="must be true or false"):
        bulk_approval_allowed(bad)
    assert not bulk_approval_allowed(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[bulk\n")
    with pytest.raises(BusinessError, match="cannot be read"):
        bulk_approval_allowed(broken)


def test_a_broken_policy_file_leaves_the_queue_working_and_says_so(
    make_app: Callable[..., ReviewApp], tmp_path: Path
) -> None:
    """A policy file that cannot be read turns bulk approval off, and the queue says so instead of failing."""
    broken = tmp_path / "review.toml"
    broken.write_text("[bulk\n")
    review = make_app(review_policy=broken)
    page = review.visitor("reviewer").client.get("/queue")
    assert 200 == page.status_code
    assert "the policy file is wrong" in page.text and 'value="approve"' not in page.text


def test_bulk_return_needs_a_reason_then_returns_each_owned_by_the_person(review_app: ReviewApp) -> None:
    """Without a reason nothing is returned; with one, each draft is returned, its decision kept and its owner the
    person who returned it."""
    alex = review_app.visitor("reviewer")
    items = [f"draft:{review_app.ids['draft']}:1", f"draft:{review_app.ids['other_draft']}:1"]
    assert 422 == post(alex, "/queue/bulk", action="return", item=items, reason="  ").status_code
    assert "awaiting_review" == draft(review_app, review_app.ids["draft"]).status
    answer = post(alex, "/queue/bulk", action="return", item=items, reason="The school is last year's.")
    assert "2 done" in answer.text
    with review_app.db.session() as session:
        alex_id = session.scalars(select(UserRow.id).where(UserRow.username == "alex.reviewer")).one()
        reasons = set(session.scalars(select(DecisionRow.reason).where(DecisionRow.decision == "returned")))
    for draft_id in (review_app.ids["draft"], review_app.ids["other_draft"]):
        assert ("returned", alex_id) == (draft(review_app, draft_id).status, draft(review_app, draft_id).owner_id)
    assert {"The school is last year's."} == reasons
    assert 2 == len(actions(review_app, "draft.assigned"))


def test_assigning_sets_the_owner_audits_it_and_refuses_what_no_longer_waits(review_app: ReviewApp) -> None:
    """Assign to me on a data-quality item makes the person its owner (audited); an item already resolved, or
    assigning in bulk to whoever already owns it, changes nothing and says why."""
    alex = review_app.visitor("reviewer")
    item = review_app.ids["item"]
    answer = post(alex, "/queue/assign", item=f"data_quality:{item}", status="to_do", page="2")
    assert (303, "/queue?page=2&done=assigned") == (answer.status_code, answer.headers["location"])
    with review_app.db.session() as session:
        owner = session.scalars(
            select(UserRow.display_name).join(DataQualityItemRow, DataQualityItemRow.owner_id == UserRow.id)
        ).one()
        assert "Alex Reviewer" == owner
        session.get_one(DataQualityItemRow, item).status = "resolved"
    (event,) = actions(review_app, "data_quality.assigned")
    assert ({"owner": None}, "Alex Reviewer") == (event.before, event.after["owner"])
    refused = post(alex, "/queue/assign", item=f"data_quality:{item}")
    assert 409 == refused.status_code and "only items still waiting" in refused.text
    post(alex, "/queue/assign", item=f"draft:{review_app.ids['draft']}")
    again = post(alex, "/queue/bulk", action="assign", item=f"draft:{review_app.ids['draft']}:1", owner="nobody")
    assert "1 done" in again.text
    assert draft(review_app, review_app.ids["draft"]).owner_id is None


def test_reopening_needs_a_returned_draft_and_a_note(review_app: ReviewApp) -> None:
    """A draft that is not returned cannot be reopened; a returned one needs a note, then is back in review as a
    new version, audited."""
    alex = review_app.visitor("reviewer")
    draft_id = review_app.ids["draft"]
    assert 409 == post(alex, f"/drafts/{draft_id}/reopen", row_version="1", note="Fixed.").status_code
    post(alex, "/queue/bulk", action="return", item=f"draft:{draft_id}:1", reason="Wrong school.")
    version = str(draft(review_app, draft_id).row_version)
    assert 422 == post(alex, f"/drafts/{draft_id}/reopen", row_version=version, note=" ").status_code
    answer = post(alex, f"/drafts/{draft_id}/reopen", row_version=version, note="School corrected.")
    assert 303 == answer.status_code
    reopened = draft(review_app, draft_id)
    assert ("awaiting_review", 2, True) == (reopened.status, reopened.content_version, reopened.needs_attention)
    assert "Reopened by Alex Reviewer: School corrected." == reopened.attention_reason
    assert 1 == len(actions(review_app, "draft.reopened"))


def test_a_search_is_posted_kept_in_the_session_and_never_in_an_address(review_app: ReviewApp) -> None:
    """The search term goes to the session, not the redirect's address; a term too long is refused with why; the
    queue shows only what matches; clearing forgets it."""
    alex = review_app.visitor("reviewer")
    answer = post(alex, "/queue/search", q="Casey Testperson", type="encompass")
    assert (303, "/queue?type=encompass") == (answer.status_code, answer.headers["location"])
    with review_app.db.session() as session:
        assert ["Casey Testperson"] == [t for t in session.scalars(select(WebSessionRow.queue_search)) if t]
    page = alex.client.get("/queue")
    assert "Casey Testperson" in page.text and "Nothing matches this search" in page.text
    too_long = post(alex, "/queue/search", q="x" * 101)
    assert 422 == too_long.status_code and "at most 100 characters" in too_long.text
    found = post(alex, "/queue/search", q="OCC/26/000101")
    assert 303 == found.status_code
    assert f"Draft #{review_app.ids['draft']}" in alex.client.get("/queue").text
    post(alex, "/queue/search", clear="1")
    with review_app.db.session() as session:
        assert [] == [t for t in session.scalars(select(WebSessionRow.queue_search)) if t]
