"""The draft page: what happened when the draft was sent (the partner's reference, or the problem), and the line
saying what each status means."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from sqlalchemy import select

from tests.review.support import ReviewApp
from vhub.store.draft_status import DraftStatus
from vhub.store.tables import (
    DataQualityItemRow,
    DecisionEscalationRow,
    DecisionRow,
    DraftRow,
    PartnerDecisionRow,
    SubmissionRow,
    UserRow,
)


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


def test_every_status_has_a_status_line_that_fits_it(review_app: ReviewApp) -> None:
    """Each status of a draft's life (vhub/store/draft_status.py) gets its own line; only a draft still waiting
    with one approval says a second reviewer must approve."""
    draft_id = review_app.ids["draft"]
    client = review_app.visitor("admin").client
    with review_app.db.session() as session:
        reviewer = session.scalars(select(UserRow.id).where(UserRow.username == "alex.reviewer")).one()
        draft = session.get_one(DraftRow, draft_id)
        draft.first_approver = reviewer
        for decision in ("first_approval", "rejected", "returned"):  # one each, whatever the status shown
            session.add(
                DecisionRow(draft_id=draft_id, user_id=reviewer, decision=decision, row_version=1, content_version=1)
            )
    expected = {
        DraftStatus.AWAITING_REVIEW: "approved once, by Alex Reviewer: red-risk drafts need a second, different",
        DraftStatus.APPROVED: "approved by Alex Reviewer; the submission is queued",
        DraftStatus.SENDING: "approved by Alex Reviewer; being sent to the partner's portal now",
        DraftStatus.SENT: "sent to the partner, approved by Alex Reviewer. Nothing more to do.",
        DraftStatus.REJECTED: "rejected by Alex Reviewer on",
        DraftStatus.RETURNED: "returned for a data fix by Alex Reviewer on",
        DraftStatus.SUPERSEDED: "replaced by a draft of a newer incident version",
    }
    assert set(DraftStatus) == set(expected)
    for status, words in expected.items():
        with review_app.db.session() as session:
            session.get_one(DraftRow, draft_id).status = status.value
        page = client.get(f"/drafts/{draft_id}").text
        line = re.search(r'<span id="status-line">(.*?)</span>', page, re.DOTALL)
        assert line is not None, status
        text = html.unescape(re.sub(r"<[^>]+>", "", line.group(1)))
        assert words in text, (status, text)
        assert ("second" in text) == (status is DraftStatus.AWAITING_REVIEW), (status, text)


def test_a_stale_save_of_a_response_text_keeps_the_text_typed(review_app: ReviewApp) -> None:
    """A response text saved on a version someone else has since changed is refused (409), and the page shows the
    text typed beside the text now stored, so none of it is lost."""
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, review_app.ids["draft"])
        draft.workflow, draft.text, draft.row_version = "isr_response", "Stored <since> by the other tab.", 3
    reviewer = review_app.visitor("reviewer")
    answer = reviewer.client.post(
        f"/drafts/{review_app.ids['draft']}/decide",
        data={"csrf_token": reviewer.csrf, "row_version": "2", "action": "save", "text": "Typed & kept in this tab."},
    )
    stale = answer.text.split('<section id="stale"')[1].split("</section>")[0]
    assert (409, True, True) == (
        answer.status_code,
        '<div class="folded typed">Typed &amp; kept in this tab.</div>' in stale,
        "Stored &lt;since&gt; by the other tab." in stale,
    )
    with review_app.db.session() as session:
        assert "Stored <since> by the other tab." == session.get_one(DraftRow, review_app.ids["draft"]).text


def test_next_item_skips_the_draft_open_and_drafts_others_hold(review_app: ReviewApp) -> None:
    """Next item from one draft opens the next to-do item nobody else is reviewing; with none left, the queue
    says so."""
    first, other = review_app.ids["draft"], review_app.ids["other_draft"]
    reviewer = review_app.visitor("reviewer").client
    second = review_app.visitor("second").client
    assert 200 == second.get(f"/drafts/{other}").status_code  # the other reviewer holds it now
    with review_app.db.session() as session:
        session.get_one(DataQualityItemRow, review_app.ids["item"]).status = "resolved"
    answer = reviewer.get(f"/queue/next?after={first}")
    assert (303, "/queue?done=empty") == (answer.status_code, answer.headers["location"])
    with review_app.db.session() as session:  # the other reviewer is done with it
        session.get_one(DraftRow, other).claimed_by = None
    answer = reviewer.get(f"/queue/next?after={first}")
    assert (303, f"/drafts/{other}") == (answer.status_code, answer.headers["location"])


def test_a_sent_referral_shows_the_front_doors_decision_and_its_closed_escalation(review_app: ReviewApp) -> None:
    """The front door's decision (vhub's label and the portal's own words, escaped), its later revision, and each
    escalation step, closed by the decision, are on the draft's page."""
    draft_id = review_app.ids["draft"]
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        draft.status, draft.workflow, draft.authority = "sent", "referral", "worcestershire"
        session.add(
            SubmissionRow(
                draft_id=draft_id,
                portal="referral_worcestershire",
                key="VHUB-101-0a1b2c3d",
                status="sent",
                partner_reference="WCF-000042",
                sent_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
            )
        )
        decision = PartnerDecisionRow(
            draft_id=draft_id,
            authority="worcestershire",
            partner_reference="WCF-000042",
            outcome="strategy_discussion",
            wording="Strategy Discussion / <S47>",
            decided_at=datetime(2026, 11, 25, 10, 15, tzinfo=UTC),
        )
        session.add(decision)
        session.add(  # the front door stepped it down two days later
            PartnerDecisionRow(
                draft_id=draft_id,
                authority="worcestershire",
                partner_reference="WCF-000042",
                outcome="assessment",
                wording="Single Assessment",
                decided_at=datetime(2026, 11, 27, 16, 0, tzinfo=UTC),
            )
        )
        session.flush()
        session.add(
            DecisionEscalationRow(
                draft_id=draft_id,
                authority="worcestershire",
                risk="red",
                partner_reference="WCF-000042",
                step=1,
                police_role="VHub duty sergeant",
                partner_role="Front door team manager",
                decision_due_at=datetime(2026, 11, 24, 17, 0, tzinfo=UTC),
                opened_at=datetime(2026, 11, 24, 17, 10, tzinfo=UTC),
                closed_at=datetime(2026, 11, 25, 11, 10, tzinfo=UTC),
                closed_by=decision.id,
            )
        )
    page = review_app.visitor("reviewer").client.get(f"/drafts/{draft_id}").text
    outcome = page.split('id="partner-outcome"')[1].split("</dl>")[0]
    assert "<dt>25/11/2026 10:15</dt><dd>Strategy discussion / section 47" in outcome
    assert "Strategy Discussion / &lt;S47&gt;" in outcome
    assert "<dt>27/11/2026 16:00</dt><dd>Revised to: Assessment" in outcome
    assert "VHub duty sergeant told 24/11/2026 17:10; closed 25/11/2026 11:10 by the decision" in outcome
