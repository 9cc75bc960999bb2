"""The draft page shows what happened when the draft was sent: the partner's reference, or the problem."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.review.support import ReviewApp
from vhub.store.tables import DraftRow, SubmissionRow


def test_a_sent_draft_shows_the_partners_reference_and_the_key(review_app: ReviewApp) -> None:
    draft_id = review_app.ids["draft"]
    with review_app.db.session() as session:
        session.get_one(DraftRow, draft_id).status = "sent"
        session.add(
            SubmissionRow(
                draft_id=draft_id,
                portal="referral_worcestershire",
                key="VHUB-101-0a1b2c3d",
                status="sent",
                partner_reference="WCF-000042",
                attempts=2,
                sent_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
            )
        )
    page = review_app.visitor("reviewer").client.get(f"/drafts/{draft_id}").text
    assert '<dd id="partner-reference">WCF-000042</dd>' in page
    assert "<code>VHUB-101-0a1b2c3d</code>" in page
    assert "<dt>Attempts</dt><dd>2</dd>" in page
    assert "<dt>Sent</dt><dd>27/11/2026 09:30</dd>" in page  # 09:30 UTC is 09:30 in London in November


def test_a_refused_draft_shows_the_partners_words_escaped(review_app: ReviewApp) -> None:
    draft_id = review_app.ids["draft"]
    with review_app.db.session() as session:
        session.add(
            SubmissionRow(
                draft_id=draft_id,
                portal="marac_portal",
                key="VHUB-101-0a1b2c3d",
                status="rejected",
                attempts=1,
                last_error="<b>MARAC takes victims aged 16 or over.</b>",
            )
        )
    page = review_app.visitor("reviewer").client.get(f"/drafts/{draft_id}").text
    assert '<dd id="partner-reference">not yet given</dd>' in page
    assert "&lt;b&gt;MARAC takes victims aged 16 or over.&lt;/b&gt;" in page
    assert "<b>MARAC" not in page


def test_the_evidence_of_the_submissions_attempts_is_listed(review_app: ReviewApp) -> None:
    """Folders the bot kept for this submission's key are listed newest first; another key's are not."""
    draft_id = review_app.ids["draft"]
    key = "VHUB-101-0a1b2c3d"
    with review_app.db.session() as session:
        session.add(SubmissionRow(draft_id=draft_id, portal="school_portal", key=key, status="sending", attempts=2))
    portal = review_app.ctx.settings.evidence_dir / "school_portal"
    older = portal / f"20261127T090000000000Z-failure-job1-submit-{key}"
    newer = portal / f"20261127T091500000000Z-failure-job2-find-{key}"
    other = portal / "20261127T091600000000Z-failure-job3-submit-VHUB-102-ffffffff"
    for folder in (older, newer, other):
        folder.mkdir(parents=True)
    page = review_app.visitor("reviewer").client.get(f"/drafts/{draft_id}").text
    assert f"<li><code>{newer}</code></li><li><code>{older}</code></li></ul>" in page
    assert str(other) not in page


def test_a_draft_never_sent_has_no_submission_block(review_app: ReviewApp) -> None:
    page = review_app.visitor("reviewer").client.get(f"/drafts/{review_app.ids['draft']}").text
    assert 'id="submission"' not in page
