"""The referral quality audit end to end: real Chromium, the review app under uvicorn, real referral drafts sent and
sampled. The force's auditor scores a referral and is refused a bad value; a partner's auditor scores the same one,
sees only its authority's sample and is refused everywhere else; the MOU report shows both scores."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import PASSWORD, ReviewApp
from vhub.mou import mou_config
from vhub.referral_audit import audit_config
from vhub.reports.mou import build_mou_report, front_doors, month_bounds, write_mou_report
from vhub.review.accounts import add_user
from vhub.store.referral_audits import draw_sample, sampled, save_scores
from vhub.store.tables import AuditSampleReferralRow, DraftRow, ReferralAuditRow, SubmissionRow, UserRow

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

JUNE, MAY = "2026-06", "2026-05"


@dataclass(frozen=True)
class Sample:
    """June's sample: two referrals to ``authority`` (``first``, ``second``) and one to ``other``; May's: one to
    ``authority`` (``report``)."""

    authority: str
    other: str
    first: int  # sampled ids
    second: int
    elsewhere: int
    report: int
    partner_references: dict[int, str]


def _send(review_app: ReviewApp, draft_ids: list[int], sent_at: datetime) -> None:
    """What the submission bot leaves when a front door took the referral: sent, with the portal's reference."""
    with review_app.db.session() as session:
        for draft_id in draft_ids:
            draft = session.get_one(DraftRow, draft_id)
            draft.status = "sent"
            session.add(
                SubmissionRow(
                    draft_id=draft_id,
                    portal=f"referral_{draft.authority}",
                    key=f"VHUB-{draft_id}-audit",
                    status="sent",
                    partner_reference=f"FD-{draft_id}",
                    sent_at=sent_at,
                )
            )


@pytest.fixture(scope="module")
def sample(review_app: ReviewApp) -> Iterator[Sample]:
    """Four referral drafts no other test uses, sent in May and June and sampled; the auditors' accounts."""
    with review_app.db.session() as session:
        rows = session.execute(
            select(DraftRow.id, DraftRow.authority)
            .where(
                DraftRow.workflow == "referral", DraftRow.status == "awaiting_review", DraftRow.authority.is_not(None)
            )
            .order_by(DraftRow.id)
        ).all()
    by_authority: dict[str, list[int]] = {}
    for draft_id, authority in rows:
        if draft_id not in review_app.taken:
            by_authority.setdefault(str(authority), []).append(draft_id)
    authority = max(by_authority, key=lambda key: len(by_authority[key]))
    other = next(key for key in sorted(by_authority) if key != authority)
    assert len(by_authority[authority]) >= 3, by_authority
    june = [*by_authority[authority][:2], by_authority[other][0]]
    may = by_authority[authority][2]
    review_app.taken.update([*june, may])
    _send(review_app, june, datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    _send(review_app, [may], datetime(2026, 5, 12, 9, 0, tzinfo=UTC))
    with review_app.db.session() as session:
        add_user(session, "fay.auditor", PASSWORD, "auditor", "Fay Auditor", actor="test")
        add_user(session, "gail.auditor", PASSWORD, "auditor", "Gail Auditor", actor="test")
        add_user(
            session, "hugo.partner", PASSWORD, "partner_auditor", "Hugo Partner", actor="test", authority=authority
        )
        for month in (JUNE, MAY):
            _, start, end = month_bounds(month)
            draw_sample(session, month, start, end, audit_config(), actor="test", now=datetime.now(UTC))
        ids = {item.draft_id: item.id for month in (JUNE, MAY) for item in sampled(session, month)}
    yield Sample(
        authority,
        other,
        ids[june[0]],
        ids[june[1]],
        ids[june[2]],
        ids[may],
        {ids[draft_id]: f"FD-{draft_id}" for draft_id in [*june, may]},
    )


def sign_in_as_auditor(page: Page, username: str) -> None:
    """Sign in; an auditor lands on the referral audits."""
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/referral-audits")


def scores_of(review_app: ReviewApp, sampled_id: int) -> dict[str, tuple[str, dict[str, int], str]]:
    """Username -> (side, scores, comment) of one sampled referral."""
    with review_app.db.session() as session:
        rows = session.execute(
            select(UserRow.username, ReferralAuditRow)
            .join(UserRow, UserRow.id == ReferralAuditRow.user_id)
            .where(ReferralAuditRow.sampled_id == sampled_id)
        ).all()
        return {name: (row.side, dict(row.scores), row.comment) for name, row in rows}


def score(
    page: Page, completeness: int | None, accuracy: int | None, proportionality: int | None, comment: str
) -> None:
    for key, value in (("completeness", completeness), ("accuracy", accuracy), ("proportionality", proportionality)):
        if value is not None:
            page.locator(f"#s-{key}-{value}").check()
    page.locator("#comment").fill(comment)
    page.locator("#save-scores").click()


def test_an_auditor_scores_a_sampled_referral(page: Page, review_app: ReviewApp, sample: Sample) -> None:
    """The force's auditor opens June's sample, reads what was sent and the incident, scores and saves: stored and
    counted in the month's progress."""
    sign_in_as_auditor(page, "fay.auditor")
    page.locator("#month").select_option(JUNE)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#sample tbody tr")).to_have_count(3)
    page.get_by_role("link", name=sample.partner_references[sample.first]).click()
    page.wait_for_url(f"**/referral-audits/{sample.first}")
    expect(page.locator("#sent-fields")).to_be_visible()
    expect(page.locator("#incident h2")).to_contain_text("The incident it came from")
    score(page, 3, 4, 2, "The school was not named.")
    expect(page.locator("#done")).to_have_text("Your scores are saved.")
    expect(page.locator("tr.score.mine td").nth(2)).to_have_text("3")
    assert ("force", {"completeness": 3, "accuracy": 4, "proportionality": 2}, "The school was not named.") == (
        scores_of(review_app, sample.first)["fay.auditor"]
    )
    page.get_by_role("link", name=f"Back to {JUNE}'s sample").click()
    expect(page.locator("#progress")).to_contain_text("scored by you 1")


def test_a_bad_value_gets_a_plain_message_and_nothing_is_stored(
    page: Page, review_app: ReviewApp, sample: Sample
) -> None:
    """Saving with no accuracy score names the field in plain words, keeps the other answers, stores nothing."""
    sign_in_as_auditor(page, "fay.auditor")
    page.goto(f"/referral-audits/{sample.second}")
    score(page, 2, None, 4, "Proportionate.")
    expect(page.locator("#problem")).to_contain_text("Accuracy against the incident: choose a score from 1 to 4.")
    expect(page.locator("#err-accuracy")).to_be_visible()
    expect(page.locator("#s-completeness-2")).to_be_checked()
    expect(page.locator("#comment")).to_have_value("Proportionate.")
    assert "fay.auditor" not in scores_of(review_app, sample.second)


def test_a_partner_auditor_scores_the_same_referral_and_is_refused_elsewhere(
    page: Page, review_app: ReviewApp, sample: Sample
) -> None:
    """The front door's auditor sees only its authority's two referrals, scores the first beside the force's score
    (numbers, not the force's comment or name), and every other page refuses it."""
    with review_app.db.session() as session:  # the force's score it is shown beside, by another force auditor
        item = session.get_one(AuditSampleReferralRow, sample.first)
        gail = session.scalars(select(UserRow.id).where(UserRow.username == "gail.auditor")).one()
        save_scores(
            session,
            item,
            user_id=gail,
            username="gail.auditor",
            side="force",
            scores={"completeness": 4, "accuracy": 4, "proportionality": 4},
            comment="Force-only note.",
            now=datetime.now(UTC),
        )
    sign_in_as_auditor(page, "hugo.partner")
    page.locator("#month").select_option(JUNE)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#sample tbody tr")).to_have_count(2)
    expect(page.locator("#sample")).not_to_contain_text(sample.partner_references[sample.elsewhere])
    page.get_by_role("link", name=sample.partner_references[sample.first]).click()
    expect(page.locator("#incident")).to_have_count(0)
    score(page, 2, 3, 4, "We had to ask for the consent position.")
    expect(page.locator("#done")).to_have_text("Your scores are saved.")
    expect(page.locator("#scores tr[data-side='force']").first).to_contain_text("Force auditor")
    expect(page.locator("#scores")).not_to_contain_text("Force-only note.")
    expect(page.locator("#scores")).not_to_contain_text("Gail Auditor")
    side, given, _ = scores_of(review_app, sample.first)["hugo.partner"]
    assert ("partner", {"completeness": 2, "accuracy": 3, "proportionality": 4}) == (side, given)
    for address in ("/queue", "/dashboard", "/admin/users", "/audit", f"/drafts/{review_app.taken.copy().pop()}"):
        answer = page.goto(address)
        assert answer is not None and 403 == answer.status, address
        expect(page.locator("h1")).to_have_text("Not allowed")
    assert 404 == page.goto(f"/referral-audits/{sample.elsewhere}").status  # type: ignore[union-attr]


def test_the_report_shows_the_force_and_partner_scores(
    page: Page, review_app: ReviewApp, sample: Sample, tmp_path: Path
) -> None:
    """May's referral scored by the force and by the front door: the MOU report counts one joint audit, the mean of
    the two scores per criterion, their agreement, and May in its six-month trend chart."""
    with review_app.db.session() as session:
        item = session.get_one(AuditSampleReferralRow, sample.report)
        users = dict(session.execute(select(UserRow.username, UserRow.id)).all())
        for username, side, marks in (
            ("gail.auditor", "force", {"completeness": 4, "accuracy": 3, "proportionality": 2}),
            ("hugo.partner", "partner", {"completeness": 4, "accuracy": 1, "proportionality": 4}),
        ):
            save_scores(
                session,
                item,
                user_id=users[username],
                username=username,
                side=side,
                scores=marks,
                comment="",
                now=datetime.now(UTC) + timedelta(seconds=1),
            )
    with review_app.db.session(read_only=True) as session:
        report = build_mou_report(session, mou_config(), front_doors(), MAY, datetime.now(UTC))
    html = write_mou_report(report, tmp_path)[0]
    page.goto(html.as_uri())
    door = front_doors()[sample.authority]
    group = page.locator("#audit-by-group tr", has_text=door)
    expect(group).to_contain_text("4.0")  # completeness: both 4
    expect(group).to_contain_text("2.0")  # accuracy: 3 and 1
    agreement = page.locator("#audit-agreement tr", has_text=door)
    expect(agreement).to_contain_text("100%")  # the same completeness score
    expect(agreement).to_contain_text("-2.0")  # accuracy: partner 1, force 3
    expect(page.locator("#audit-trend tr", has_text=MAY)).to_contain_text("1")
    expect(page.locator("figure.chart svg").first).to_be_visible()
