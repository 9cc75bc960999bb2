"""The draft page in Chromium: decisions in reach on a long referral, back to the field after Save, a stale
save that loses nothing, the status line of a sent draft, and keyboard shortcuts."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import func, select

from tests.e2e.conftest import BOLD_NAME, PLANTED_REFERENCE, ReviewApp, sign_in
from vhub.store.tables import CraScoreRow, DecisionRow, DraftRow, UserRow

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

VIEWPORT_HEIGHT = 900  # browser_context_args in tests/e2e/conftest.py
TOPS = """() => Object.fromEntries(['#bar-risk', '#bar-deadline', '#reasons', '#approve', '#next-item'].map(
  (selector) => [selector, document.querySelector(selector).getBoundingClientRect().top]))"""


def longest_referral(review_app: ReviewApp) -> int:
    """The free non-red referral with the most children and household members (the tallest page)."""
    with review_app.db.session() as session:
        rows = session.execute(
            select(DraftRow.id, DraftRow.payload).where(
                DraftRow.workflow == "referral",
                DraftRow.status == "awaiting_review",
                DraftRow.risk != "red",
                DraftRow.claimed_by.is_(None),
            )
        ).all()
    free = [(len(p["children"]) + len(p.get("parents_carers_household", [])), i) for i, p in rows]
    draft_id = max(pair for pair in free if pair[1] not in review_app.taken)[1]
    review_app.taken.add(draft_id)
    return draft_id


def test_risk_deadline_reasons_and_decisions_are_at_the_top_and_stay_in_reach(
    page: Page, review_app: ReviewApp
) -> None:
    """On a long referral, risk, deadline, reasons and Approve are in the first screen; Approve stays in view
    when the page is scrolled to the middle and to the end; the referrer boilerplate is folded, opened by keyboard."""
    draft_id = longest_referral(review_app)
    sign_in(page, "alex.reviewer")
    page.goto(f"/drafts/{draft_id}")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height > 3 * VIEWPORT_HEIGHT, height  # a page long enough for the question to matter

    tops: dict[str, float] = page.evaluate(TOPS)
    assert all(0 <= top < VIEWPORT_HEIGHT for top in tops.values()), tops
    for where in (height // 2, height):
        page.evaluate("(y) => window.scrollTo(0, y)", where)
        box = page.locator("#approve").bounding_box()
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= VIEWPORT_HEIGHT, (where, box)
        expect(page.locator("#bar-deadline")).to_be_in_viewport()

    referrer = page.locator("details.folded-group", has=page.locator('[name="referrer.name"]'))
    expect(referrer).not_to_have_attribute("open", "")
    expect(page.locator('[name="referrer.name"]')).to_be_hidden()
    referrer.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(page.locator('[name="referrer.name"]')).to_be_visible()


def test_after_save_the_person_is_back_at_the_field_they_edited(page: Page, review_app: ReviewApp) -> None:
    """Saving from the decision bar stores the edit and brings the person back to that field, focused and in view."""
    draft_id = longest_referral(review_app)
    sign_in(page, "alex.reviewer")
    page.goto(f"/drafts/{draft_id}")
    field = page.locator('[name="other_agencies"]')
    field.fill("School nurse (added in review)")
    page.locator("#save").click()
    page.wait_for_url(re.compile(rf"/drafts/{draft_id}\?done=saved&focus=other_agencies$"))
    expect(page.locator("#done")).to_have_text("Your changes are saved.")
    expect(field).to_be_focused()
    expect(field).to_be_in_viewport()
    assert page.evaluate("() => window.scrollY") > VIEWPORT_HEIGHT  # not left at the top of the page
    assert "School nurse (added in review)" == review_app.draft(draft_id).payload["other_agencies"]


def test_a_stale_save_from_a_second_tab_keeps_what_was_typed(page: Page, review_app: ReviewApp) -> None:
    """A second tab's save after the first tab saved is refused, shows what was typed beside what is stored, and
    "Use mine" puts it back in the form so saving again stores it; nothing typed is lost."""
    draft_id = review_app.take(workflow="referral", not_risk="red")
    first = sign_in(page, "alex.reviewer")
    second = first.context.new_page()
    first.goto(f"/drafts/{draft_id}")
    second.goto(f"/drafts/{draft_id}")

    first.locator('[name="other_agencies"]').fill("Early Help (first tab)")
    first.locator("#save").click()
    first.wait_for_url("**done=saved**")

    second.locator('[name="other_agencies"]').fill("Health visitor (second tab)")
    second.locator('[name="concern.child_whereabouts_and_condition"]').fill("With grandmother, unhurt (second tab)")
    second.locator("#save").click()
    expect(second.locator("#problem")).to_contain_text("Nothing you typed is lost")
    rows = second.locator("#stale tbody tr")
    expect(rows).to_have_count(2)
    agencies = rows.filter(has_text="Other agencies involved")
    expect(agencies.locator("td").nth(0)).to_have_text("Health visitor (second tab)")
    expect(agencies.locator("td").nth(1)).to_have_text("Early Help (first tab)")
    expect(second.locator('[name="other_agencies"]')).to_have_value("Early Help (first tab)")
    assert "Early Help (first tab)" == review_app.draft(draft_id).payload["other_agencies"]

    second.locator("#use-all-mine").click()
    expect(second.locator('[name="other_agencies"]')).to_have_value("Health visitor (second tab)")
    second.locator("#save").click()
    second.wait_for_url("**done=saved**")
    stored = review_app.draft(draft_id).payload
    assert ("Health visitor (second tab)", "With grandmother, unhurt (second tab)") == (
        stored["other_agencies"],
        stored["concern"]["child_whereabouts_and_condition"],
    )


def test_a_sent_draft_does_not_say_a_second_reviewer_must_approve(page: Page, review_app: ReviewApp) -> None:
    """A red draft approved by two people and sent says it was sent and by whom, not that it awaits a second."""
    draft_id = review_app.take(risk="red")
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        alex, sam = (
            session.scalars(select(UserRow.id).where(UserRow.username == name)).one()
            for name in ("alex.reviewer", "sam.reviewer")
        )
        draft.status, draft.first_approver = "sent", alex
        for user_id, decision in ((alex, "first_approval"), (sam, "approved")):
            session.add(
                DecisionRow(
                    draft_id=draft_id,
                    user_id=user_id,
                    decision=decision,
                    row_version=draft.row_version,
                    content_version=draft.content_version,
                )
            )
    sign_in(page, "vhub.admin")
    page.goto(f"/drafts/{draft_id}")
    line = page.locator("#status-line")
    expect(line).to_have_text(
        "Status: Sent — sent to the partner, approved by Alex Reviewer and Sam Reviewer. Nothing more to do."
    )
    expect(page.locator("main")).not_to_contain_text("second reviewer must approve")


def test_keyboard_shortcuts_next_approve_and_return_never_while_typing(page: Page, review_app: ReviewApp) -> None:
    """N, A and R are shown on the page and do nothing while typing in a field; A asks in the button's words and
    approves only when the person agrees; N opens another item of the queue."""
    draft_id = review_app.take(workflow="encompass", not_risk="red")
    asked: list[str] = []
    answers = iter([False, True])

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", answer)
    sign_in(page, "alex.reviewer")
    page.goto(f"/drafts/{draft_id}")
    expect(page.locator("#shortcuts")).to_contain_text("N next item · A approve (asks first) · R return for a data fix")

    field = page.locator('[name="child_name"]')
    typed = field.input_value()
    field.focus()
    field.press("End")
    for key in ("n", "a", "r"):
        page.keyboard.press(key)
    expect(field).to_have_value(typed + "nar")
    expect(page.locator("#other-decisions")).not_to_have_attribute("open", "")
    assert ([], f"/drafts/{draft_id}") == (asked, page.url.removeprefix(review_app.url))
    field.fill(typed)
    page.locator("#draft-status").click()  # out of the field

    page.keyboard.press("a")
    expect(page.locator("#approve")).to_be_visible()
    assert [f"Approve: Draft #{draft_id}?"] == asked
    assert [] == review_app.decisions(draft_id)
    page.keyboard.press("a")
    page.wait_for_url("**/queue?*done=approved*")
    assert [("approved", "alex.reviewer")] == review_app.decisions(draft_id)

    other = review_app.take(workflow="encompass", not_risk="red")
    page.goto(f"/drafts/{other}")
    with page.expect_navigation():
        page.keyboard.press("n")
    assert re.search(r"/(drafts|data-quality)/\d+$", page.url), page.url
    assert not page.url.endswith(f"/drafts/{other}")
    with review_app.db.session() as session:
        held = session.scalar(select(func.count()).where(DraftRow.id == other, DraftRow.claimed_by.is_not(None)))
    assert 1 == held  # the draft left is still the reviewer's claim: N moved on, it decided nothing
    assert [] == review_app.decisions(other)


def weakest_assessed(review_app: ReviewApp) -> tuple[int, CraScoreRow]:
    """A free draft of an incident with a child risk assessment lacking something, and that assessment's score."""
    with review_app.db.session() as session:
        rows = session.execute(
            select(DraftRow.id, CraScoreRow)
            .join(CraScoreRow, CraScoreRow.incident_id == DraftRow.incident_id)
            .where(
                DraftRow.status == "awaiting_review",
                DraftRow.first_approver.is_(None),
                DraftRow.claimed_by.is_(None),
                CraScoreRow.assessed.is_(True),
                CraScoreRow.score < 100,
                CraScoreRow.team.is_not(None),
            )
            .order_by(CraScoreRow.score, DraftRow.id)
        ).all()
        session.expunge_all()
    draft_id, score = next((i, row) for i, row in rows if i not in review_app.taken)
    review_app.taken.add(draft_id)
    return draft_id, score


def test_each_childs_assessment_score_and_what_it_lacks_are_shown_to_send_it_back(
    page: Page, review_app: ReviewApp
) -> None:
    """A draft's page shows each linked child's assessment score, what it lacks in the rubric's words, and the area,
    team and contact to send it back to; a child with none says so; a child's name in markup is shown as text."""
    draft_id, scored = weakest_assessed(review_app)
    sign_in(page, "alex.reviewer")
    page.goto(f"/drafts/{draft_id}")
    row = page.locator(f'#cra-scores tr[data-nominal="{scored.nominal_ref}"]')
    expect(row.locator(".cra-score")).to_have_text(f"{scored.score} / 100")
    expect(row.locator(".cra-lacks li")).to_have_text([lack["lacks"] for lack in scored.lacking])
    expect(row.locator(".cra-send-back")).to_contain_text(f"{scored.area}, {scored.team}")
    expect(row.locator(".cra-send-back")).to_contain_text(f"{scored.area} LPA CRA single point of contact")

    planted = review_app.take(reference=PLANTED_REFERENCE)
    page.goto(f"/drafts/{planted}")
    missing = page.locator("#cra-scores tbody tr")
    expect(missing).to_have_count(1)
    expect(missing.locator(".cra-lacks")).to_have_text("No child risk assessment")
    expect(missing.locator(".cra-send-back")).to_contain_text("Worcestershire, team not recorded")
    expect(missing.locator("td").first).to_contain_text(f"{BOLD_NAME} Testperson")
    assert 0 == page.locator("#cra-scores b").count()
