"""The review app end to end: real Chromium, the app under uvicorn, real Redis and the real store."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import (
    BOLD_NAME,
    ONERROR,
    PLANTED_REFERENCE,
    SCREENSHOTS,
    SCRIPT,
    ReviewApp,
    csrf_token,
    sign_in,
)
from tests.factories import raw_incident
from vhub.errors import InvalidRecord
from vhub.models import parse_uk_datetime, validate_incident
from vhub.review.record_labels import plain_reason
from vhub.store.incidents import to_model
from vhub.store.runs import record_invalid
from vhub.store.tables import DataQualityItemRow, IncidentRow

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SUBMIT_JOB = "tasks.submit.submit_draft"


def option_count(page: Page, select_id: str, value: str) -> int:
    """The count a filter option shows: "Referral (12)" -> 12."""
    text = page.locator(f"#{select_id} option[value='{value}']").inner_text()
    match = re.search(r"\((\d+)\)$", text)
    assert match, text
    return int(match.group(1))


def column(page: Page, number: int) -> list[str]:
    """The text of one column of the queue table, as in the page source (not as styled)."""
    return [text.strip() for text in page.locator(f"#queue tbody tr td:nth-child({number})").all_text_contents()]


def submitted(review_app: ReviewApp, draft_id: int) -> list[tuple[str, tuple[Any, ...]]]:
    """The draft's submission jobs, queued or held back by its portal's rate limit."""
    return [(function, args) for function, args, _ in review_app.submit_jobs(draft_id)]


def test_filter_edit_with_an_error_then_approve_a_referral(page: Page, review_app: ReviewApp) -> None:
    """Filter, open a referral, see a future date of birth refused beside its field, approve: stored and queued."""
    draft_id = review_app.take(workflow="referral", not_risk="red")
    risk = review_app.draft(draft_id).risk
    assert risk is not None
    sign_in(page, "alex.reviewer")

    page.locator("#f-type").select_option("referral")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/queue?*type=referral*")
    referrals = review_app.waiting(workflow="referral")
    assert referrals == option_count(page, "f-type", "referral")
    assert {"Referral"} == set(column(page, 3))
    assert min(referrals, 25) == page.locator("#queue tbody tr").count()
    assert f"{referrals} items" in page.locator("main").inner_text()

    assert review_app.waiting(workflow="referral", risk=risk) == option_count(page, "f-risk", risk)
    page.locator("#f-risk").select_option(risk)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(f"**/queue?*risk={risk}*")
    assert {"Referral"} == set(column(page, 3))
    assert {risk} == set(column(page, 6))
    assert review_app.waiting(workflow="referral", risk=risk) == page.locator("#queue tbody tr").count()

    page.get_by_role("link", name=f"Draft #{draft_id}", exact=True).click()
    page.wait_for_url(f"**/drafts/{draft_id}")
    date_of_birth = page.locator('[name="children[0].date_of_birth"]')
    original_date_of_birth = date_of_birth.input_value()
    other_agencies = page.locator('[name="other_agencies"]')
    before = other_agencies.input_value()
    after = "Early Help team (added in review)"
    date_of_birth.fill((date.today() + timedelta(days=400)).isoformat())
    other_agencies.fill(after)
    page.get_by_role("button", name="Save changes").click()

    expect(page.locator("#problem")).to_contain_text("nothing was saved")
    errors = page.locator(".field-error")
    expect(errors).to_have_count(1)
    expect(page.locator('[id="err-children[0].date_of_birth"]')).to_contain_text("date of birth is in the future")
    assert "true" == date_of_birth.get_attribute("aria-invalid")
    assert after == other_agencies.input_value()
    assert [] == review_app.decisions(draft_id)

    date_of_birth.fill(original_date_of_birth)
    page.locator("#approve").click()
    page.wait_for_url("**/queue?*done=approved*")
    expect(page.locator(".done")).to_have_text(f"Draft #{draft_id}: Approved: the submission is queued.")

    assert "approved" == review_app.draft(draft_id).status
    assert [("edited", "alex.reviewer"), ("approved", "alex.reviewer")] == review_app.decisions(draft_id)
    (edited,) = review_app.audit(draft_id, "draft.edited")
    assert (before or None, after) == (edited.before["payload.other_agencies"], edited.after["payload.other_agencies"])
    assert after == review_app.draft(draft_id).payload["other_agencies"]
    assert 1 == len(review_app.audit(draft_id, "draft.approved"))
    assert [(SUBMIT_JOB, (draft_id,), "queued")] == review_app.submit_jobs(draft_id)  # first for its portal


def test_approving_an_unchanged_referral_records_no_edit(page: Page, review_app: ReviewApp) -> None:
    """Approving a referral as drafted stores no edit and leaves its payload exactly as drafted."""
    draft_id = review_app.take(workflow="referral", not_risk="red")
    drafted = review_app.draft(draft_id).payload
    sign_in(page, "sam.reviewer")
    page.goto(f"/drafts/{draft_id}")
    page.locator("#approve").click()
    page.wait_for_url("**/queue?*done=approved*")
    assert [("approved", "sam.reviewer")] == review_app.decisions(draft_id)
    assert drafted == review_app.draft(draft_id).payload


def test_an_opened_draft_is_claimed_and_the_other_reviewer_is_told(
    page: Page, new_context: Callable[..., BrowserContext], review_app: ReviewApp
) -> None:
    """The second reviewer to open a draft sees who holds it and cannot approve; one approval is stored."""
    draft_id = review_app.take(workflow="encompass", not_risk="red")
    alex = sign_in(page, "alex.reviewer")
    sam = sign_in(new_context().new_page(), "sam.reviewer")

    alex.goto(f"/drafts/{draft_id}")
    expect(alex.locator("#approve")).to_be_visible()
    sam.goto(f"/drafts/{draft_id}")
    expect(sam.locator("#claimed")).to_contain_text("Being reviewed by Alex Reviewer")
    expect(sam.locator("#approve")).to_have_count(0)

    alex.locator("#approve").click()
    alex.wait_for_url("**/queue?*done=approved*")
    sam.reload()
    expect(sam.locator("#draft-status")).to_have_text("Approved")
    expect(sam.locator("#approve")).to_have_count(0)

    assert [("approved", "alex.reviewer")] == review_app.decisions(draft_id)
    assert [(SUBMIT_JOB, (draft_id,))] == submitted(review_app, draft_id)


def test_two_approvals_of_one_version_give_one_approval_and_one_conflict(
    page: Page, new_context: Callable[..., BrowserContext], review_app: ReviewApp
) -> None:
    """Both reviewers post Approve on the same row version: one 303, one 409 with the reason shown."""
    draft_id = review_app.take(workflow="encompass", not_risk="red")
    row_version = review_app.draft(draft_id).row_version
    alex = sign_in(page, "alex.reviewer")
    sam = sign_in(new_context().new_page(), "sam.reviewer")

    answers = [
        reviewer.request.post(
            f"/drafts/{draft_id}/decide",
            form={"csrf_token": csrf_token(reviewer), "row_version": str(row_version), "action": "approve"},
            max_redirects=0,
        )
        for reviewer in (alex, sam)
    ]

    assert [303, 409] == [answer.status for answer in answers]
    assert f"/queue?done=approved&draft={draft_id}" == answers[0].headers["location"]
    assert 'id="problem"' in answers[1].text() and "changed while you had it open" in answers[1].text()
    assert [("approved", "alex.reviewer")] == review_app.decisions(draft_id)
    assert [(SUBMIT_JOB, (draft_id,))] == submitted(review_app, draft_id)


RACE = """([url, form]) => {
  window.vhubRace = fetch(url, {method: "POST", body: new URLSearchParams(form)})
    .then(r => ({status: r.status, redirected: r.redirected, url: r.url}));
}"""


def test_simultaneous_approvals_from_two_browsers_store_one(
    page: Page, new_context: Callable[..., BrowserContext], review_app: ReviewApp
) -> None:
    """Two browsers send Approve for the same version at the same moment: one wins, the other gets a 409."""
    draft_id = review_app.take(workflow="encompass", not_risk="red")
    row_version = str(review_app.draft(draft_id).row_version)
    reviewers = [sign_in(page, "alex.reviewer"), sign_in(new_context().new_page(), "sam.reviewer")]

    for reviewer in reviewers:  # both requests are in flight before either answer is read
        form = {"csrf_token": csrf_token(reviewer), "row_version": row_version, "action": "approve"}
        reviewer.evaluate(RACE, [f"/drafts/{draft_id}/decide", form])
    outcomes = [reviewer.evaluate("() => window.vhubRace") for reviewer in reviewers]

    won = [o for o in outcomes if o["redirected"] and "done=approved" in o["url"]]
    lost = [o for o in outcomes if o["status"] == 409]
    assert (1, 1) == (len(won), len(lost)), outcomes
    assert 1 == len([d for d in review_app.decisions(draft_id) if d[0] == "approved"])
    assert [(SUBMIT_JOB, (draft_id,))] == submitted(review_app, draft_id)


def test_a_red_risk_draft_needs_two_different_approvers(
    page: Page, new_context: Callable[..., BrowserContext], review_app: ReviewApp
) -> None:
    """First approval waits for a second reviewer; the same person again is refused; another reviewer approves."""
    draft_id = review_app.take(risk="red", workflow="encompass")
    alex = sign_in(page, "alex.reviewer")

    alex.goto(f"/drafts/{draft_id}")
    expect(alex.locator("#approve")).to_contain_text("first of two")
    alex.locator("#approve").click()
    alex.wait_for_url("**/queue?*done=awaiting_second_approval*")
    expect(alex.locator(".done")).to_contain_text("red-risk drafts need a second reviewer")
    assert [("first_approval", "alex.reviewer")] == review_app.decisions(draft_id)
    assert [] == submitted(review_app, draft_id)

    alex.goto("/queue?status=second_approval")
    expect(alex.get_by_role("link", name=f"Draft #{draft_id}", exact=True)).to_be_visible()
    alex.goto(f"/drafts/{draft_id}")
    expect(alex.locator("#status-line")).to_contain_text("approved once, by Alex Reviewer")
    alex.locator("#approve").click()
    expect(alex.locator("#problem")).to_contain_text("a second, different reviewer must approve it")
    assert [("first_approval", "alex.reviewer")] == review_app.decisions(draft_id)

    sam = sign_in(new_context().new_page(), "sam.reviewer")
    sam.goto(f"/drafts/{draft_id}")
    sam.locator("#approve").click()
    sam.wait_for_url("**/queue?*done=approved*")

    assert "approved" == review_app.draft(draft_id).status
    assert [("first_approval", "alex.reviewer"), ("approved", "sam.reviewer")] == review_app.decisions(draft_id)
    assert [(SUBMIT_JOB, (draft_id,))] == submitted(review_app, draft_id)


def test_the_second_approver_is_not_locked_out_by_the_first(
    page: Page, new_context: Callable[..., BrowserContext], review_app: ReviewApp
) -> None:
    """After the first approver looks at a red draft again, a second reviewer can still approve it at once."""
    draft_id = review_app.take(risk="red", workflow="encompass")
    alex = sign_in(page, "alex.reviewer")
    alex.goto(f"/drafts/{draft_id}")
    alex.locator("#approve").click()
    alex.wait_for_url("**/queue?*done=awaiting_second_approval*")
    alex.goto(f"/drafts/{draft_id}")

    sam = sign_in(new_context().new_page(), "sam.reviewer")
    sam.goto(f"/drafts/{draft_id}")
    expect(sam.locator("#approve")).to_be_visible(timeout=2000)


def test_markup_in_the_record_is_shown_as_text(page: Page, review_app: ReviewApp) -> None:
    """The planted narrative's script and onerror payloads and a name with <b> render as text; nothing runs."""
    draft_id = review_app.take(reference=PLANTED_REFERENCE)
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    sign_in(page, "alex.reviewer")
    page.goto(f"/drafts/{draft_id}")
    page.wait_for_load_state("load")

    narrative = page.locator("#narrative")
    assert SCRIPT in narrative.inner_text()
    assert ONERROR in narrative.inner_text()
    assert 0 == narrative.locator("script").count()
    assert 0 == narrative.locator("img").count()
    # the child's name, as text, in the people table and in the child risk assessments' table
    expect(page.locator("main table tbody td", has_text=BOLD_NAME)).to_have_count(2)
    expect(page.locator("#cra-scores td", has_text=BOLD_NAME)).to_have_count(1)
    assert 0 == page.locator("main b").count()
    assert 0 == page.locator("main img").count()
    assert [] == dialogs


def test_reject_needs_a_reason_and_return_for_a_fix_works(page: Page, review_app: ReviewApp) -> None:
    """Reject without a reason is refused with a message and changes nothing; return with a reason is stored."""
    rejected_id = review_app.take(workflow="encompass")
    returned_id = review_app.take(workflow="encompass")
    sign_in(page, "alex.reviewer")

    page.goto(f"/drafts/{rejected_id}")
    page.locator("#other-decisions summary").click()
    reason = page.locator("#reject-reason")
    page.get_by_role("button", name="Reject", exact=True).click()  # the browser itself asks for the reason
    assert reason.evaluate("element => element.validity.valueMissing")
    assert page.url.endswith(f"/drafts/{rejected_id}")
    reason.fill("   ")  # passes the browser's check, not the app's
    page.get_by_role("button", name="Reject", exact=True).click()
    expect(page.locator("#problem")).to_contain_text("Say why you are rejecting the draft")
    assert ("awaiting_review", []) == (review_app.draft(rejected_id).status, review_app.decisions(rejected_id))

    page.locator("#reject-reason").fill("Duplicate of a notice already sent by phone.")  # the form stays open
    page.get_by_role("button", name="Reject", exact=True).click()
    page.wait_for_url("**/queue?*done=rejected*")
    assert "rejected" == review_app.draft(rejected_id).status

    page.goto(f"/drafts/{returned_id}")
    page.keyboard.press("r")  # the shortcut opens the return form at its reason
    expect(page.locator("#return-reason")).to_be_focused()
    page.locator("#return-reason").fill("The child's school in the record is the old one.")
    page.get_by_role("button", name="Return for a data fix").click()
    page.wait_for_url("**/queue?*done=returned*")
    expect(page.locator(".done")).to_have_text(f"Draft #{returned_id}: Returned for a data fix.")
    assert "returned" == review_app.draft(returned_id).status
    assert [("returned", "alex.reviewer")] == review_app.decisions(returned_id)
    (event,) = review_app.audit(returned_id, "draft.returned")
    assert "The child's school in the record is the old one." == event.after["reason"]
    assert [] == submitted(review_app, returned_id)


def invalid_record(review_app: ReviewApp, system_id: int) -> tuple[int, dict[str, Any], list[str]]:
    """Keep a record with an impossible date of birth as ingest would: (item id, raw record, reasons)."""
    raw = raw_incident(reference=f"OCC/26/{system_id:06d}", system_id=system_id)
    raw["people"][2]["date_of_birth"] = "31/02/2016"
    with pytest.raises(InvalidRecord) as invalid:
        validate_incident(raw)
    reasons = invalid.value.reasons
    assert ["people[2].date_of_birth: is not a real calendar date"] == reasons
    with review_app.db.session() as session:
        record_invalid(
            session,
            system="records_system",
            system_id=system_id,
            reference=raw["reference"],
            version=parse_uk_datetime(raw["last_modified"]),
            reasons=reasons,
            raw=raw,
        )
        item_id = session.scalars(select(DataQualityItemRow.id).where(DataQualityItemRow.system_id == system_id)).one()
    return item_id, raw, reasons


def assert_corrected(review_app: ReviewApp, item_id: int, raw: dict[str, Any], date_of_birth: str) -> None:
    with review_app.db.session() as session:
        item = session.get_one(DataQualityItemRow, item_id)
        assert ("resolved", "alex.reviewer") == (item.status, item.resolved_by)
        assert {"people[2].date_of_birth": date_of_birth} == item.resolution["corrections"]
        stored = session.scalars(select(IncidentRow).where(IncidentRow.reference == raw["reference"])).all()
        assert [(parse_uk_datetime(raw["last_modified"]), True)] == [(r.last_modified, r.is_latest) for r in stored]
        assert date(2016, 2, 28) == to_model(stored[0]).people[2].date_of_birth


def test_a_data_quality_item_shows_its_reason_in_the_queue(page: Page, review_app: ReviewApp) -> None:
    """An invalid record's item is listed under Data quality with its reason in plain words and its reference."""
    item_id, raw, reasons = invalid_record(review_app, 990201)
    sign_in(page, "alex.reviewer")
    page.goto("/queue?type=data_quality")
    row = page.locator("#queue tbody tr", has=page.get_by_role("link", name=f"Data quality #{item_id}", exact=True))
    expect(row).to_contain_text(plain_reason(reasons[0], raw))  # the field by its plain name, not its path
    expect(row).not_to_contain_text("people[")
    expect(row).to_contain_text(raw["reference"])
    assert {"Data quality"} == set(column(page, 3))


def test_a_posted_correction_resolves_the_item_and_stores_the_incident(page: Page, review_app: ReviewApp) -> None:
    """Posting a corrected date of birth for an item resolves it, stores the incident and clears it from the queue."""
    item_id, raw, _ = invalid_record(review_app, 990202)
    sign_in(page, "alex.reviewer")
    answer = page.request.post(
        f"/data-quality/{item_id}/resolve",
        form={"csrf_token": csrf_token(page), "action": "correct", "people[2].date_of_birth": "28/02/2016"},
        max_redirects=0,
    )
    assert (303, "/queue?done=corrected") == (answer.status, answer.headers["location"])
    assert_corrected(review_app, item_id, raw, "28/02/2016")
    page.goto("/queue?type=data_quality")
    expect(page.get_by_role("link", name=f"Data quality #{item_id}", exact=True)).to_have_count(0)


def test_a_data_quality_item_is_corrected_on_its_page(page: Page, review_app: ReviewApp) -> None:
    """From the queue, the item's page offers the field its reason names; saving a correction resolves it."""
    item_id, raw, reasons = invalid_record(review_app, 990203)
    sign_in(page, "alex.reviewer")
    page.goto("/queue?type=data_quality")
    with page.expect_response(f"**/data-quality/{item_id}") as opened:
        page.get_by_role("link", name=f"Data quality #{item_id}", exact=True).click()
    assert 200 == opened.value.status
    expect(page.locator("#dq-reasons")).to_have_text(
        "Date of birth of child Casey Testperson (N100003): is not a real calendar date"  # reasons[0] in plain words
    )
    page.locator('[name="people[2].date_of_birth"]').fill("28/02/2016")
    page.get_by_role("button", name="Save the correction").click()
    page.wait_for_url("**/queue?done=corrected")
    assert_corrected(review_app, item_id, raw, "28/02/2016")


def keep_screenshot(page: Page, name: str, folder: Path, *, full_page: bool) -> bytes:
    """Take a PNG into ``folder``; copy it to docs/screenshots/ if it is missing there or VHUB_UPDATE_SCREENSHOTS
    is set (the README shows those; refreshing them on every run would change them with every clock tick)."""
    png = page.screenshot(path=str(folder / name), full_page=full_page)
    if os.environ.get("VHUB_UPDATE_SCREENSHOTS") or not (SCREENSHOTS / name).exists():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / name).write_bytes(png)
    return png


def png_width(png: bytes) -> int:
    return int.from_bytes(png[16:20], "big")  # the IHDR chunk follows the 8-byte signature


def test_screenshots_of_the_queue_a_draft_and_the_dashboard(page: Page, review_app: ReviewApp, tmp_path: Path) -> None:
    """The queue, a referral draft (at the top and scrolled) and the dashboard render 1280 px wide; their PNGs are
    the README's."""
    draft_id = review_app.take(workflow="referral", risk="amber")
    sign_in(page, "sam.reviewer")
    page.goto("/queue")
    expect(page.locator("#queue tbody tr").first).to_be_visible()
    assert 1280 == png_width(keep_screenshot(page, "queue.png", tmp_path, full_page=True))
    page.goto(f"/drafts/{draft_id}")
    expect(page.locator("#approve")).to_be_visible()
    assert 1280 == png_width(keep_screenshot(page, "draft.png", tmp_path, full_page=False))
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    expect(page.locator("#approve")).to_be_in_viewport()  # the decision bar stays at the top of the window
    assert 1280 == png_width(keep_screenshot(page, "draft-scrolled.png", tmp_path, full_page=False))
    answer = page.goto("/dashboard")
    assert answer is not None and 200 == answer.status
    expect(page.locator("h1")).to_contain_text("Dashboard")
    assert 1280 == png_width(keep_screenshot(page, "dashboard.png", tmp_path, full_page=True))
