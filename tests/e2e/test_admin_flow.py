"""The admin pages end to end in Chromium: a failed job read, its evidence seen and the job discarded without
losing its draft; a paused portal named and resumed; an account re-enabled and given a new password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from redis import Redis
from sqlalchemy import select

from tests.e2e.conftest import ADMIN, PASSWORD, ReviewApp, sign_in
from tests.e2e.test_review_flow import keep_screenshot
from tests.failed_jobs import stage_evidence, stage_failed
from vhub.portals import pause, portal_names, resume
from vhub.queues import Jobs
from vhub.review.accounts import disable_user, reset_password
from vhub.settings import Settings
from vhub.store.tables import AuditEventRow, DraftRow, SubmissionRow

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

PORTAL_DOWN = (
    "<h1 style='font-family:sans-serif'>School notification portal</h1>"
    "<p style='font-family:sans-serif'>503 Service Unavailable: the service is busy. Please try again later.</p>"
)
UNAVAILABLE = "vhub.errors.SystemUnavailable: [system_unavailable] The school portal did not answer in time."


@pytest.fixture
def jobs(review_app: ReviewApp) -> Iterator[Jobs]:
    connection = Redis.from_url(review_app.redis_url)
    yield Jobs(connection)
    connection.close()


def approved_with_submission(review_app: ReviewApp) -> int:
    """An approved Operation Encompass draft whose submission is waiting (as after an approval)."""
    draft_id = review_app.take(workflow="encompass", not_risk="red")
    with review_app.db.session() as session:
        session.get_one(DraftRow, draft_id).status = "approved"
        session.add(SubmissionRow(draft_id=draft_id, portal="school_portal", key=f"VHUB-{draft_id}-e2e", attempts=3))
    return draft_id


def test_an_admin_reads_a_failed_send_sees_its_evidence_and_discards_it(
    page: Page, review_app: ReviewApp, review_settings: Settings, jobs: Jobs, tmp_path: Path
) -> None:
    """The failed job says why in plain words with its screenshot (the README's picture of it); discarding it asks
    for a reason, audits it, and its draft is back in the review queue, unsent, with the reason on its page."""
    draft_id = approved_with_submission(review_app)
    job_id = stage_failed(jobs, "submit", "tasks.submit.submit_draft", draft_id, error=UNAVAILABLE)
    sign_in(page, ADMIN)
    folder = stage_evidence(review_settings.evidence_dir, job_id)
    portal = page.context.new_page()  # a real PNG of a partner's page, as the bot's browser saves one
    portal.set_viewport_size({"width": 800, "height": 300})
    portal.set_content(PORTAL_DOWN)
    portal.screenshot(path=str(folder / "screenshot.png"))
    portal.close()
    page.get_by_role("link", name="Failed jobs").click()
    row = page.locator(f'tr.failed-job[data-job-id="{job_id}"]')
    expect(row).to_contain_text("The other system did not answer, answered too slowly")
    expect(row).to_contain_text(" GMT")
    row.get_by_role("link", name=job_id).click()
    expect(page.locator("#explanation")).to_contain_text("the bot tried again several times and gave up")
    expect(page.locator("#job-attempts")).to_have_text("1")
    image = page.get_by_role("img", name="Screenshot of the page when attempt 1 failed")
    expect(image).to_be_visible()
    # loaded and decoded, not only laid out (a slow machine shows the box first): fails after 30 s if it never is
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    keep_screenshot(page, "failed-job.png", tmp_path, full_page=True)
    page.get_by_role("button", name="Discard this job").click()  # no reason: the browser asks for one
    expect(page).to_have_url(f"{review_app.url}/admin/failed-jobs/{job_id}")
    page.get_by_label("Why it is being discarded").fill("The school was told by phone")
    page.get_by_role("button", name="Discard this job").click()
    expect(page.locator("#done")).to_contain_text(f"Job {job_id} was discarded.")
    expect(page.locator(f'tr.failed-job[data-job-id="{job_id}"]')).to_have_count(0)
    page.goto(f"/drafts/{draft_id}")
    expect(page.locator("p.problem[role=alert]").first).to_contain_text(
        "Not sent: sending failed and vhub.admin stopped it (The school was told by phone)."
    )
    with review_app.db.session() as session:
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == "job.discarded", AuditEventRow.entity_id == job_id)
        ).one()
        assert (ADMIN, "The school was told by phone") == (event.actor, event.after["reason"])


def test_a_reviewer_cannot_reach_failed_jobs_or_their_evidence(
    page: Page, review_app: ReviewApp, review_settings: Settings, jobs: Jobs
) -> None:
    """A reviewer has no Failed jobs link, and the page and an evidence file answer 403."""
    job_id = stage_failed(jobs, "scan", "tasks.isr.isr_scan", error=UNAVAILABLE)
    stage_evidence(review_settings.evidence_dir, job_id)
    sign_in(page, "alex.reviewer")
    expect(page.get_by_role("link", name="Failed jobs")).to_have_count(0)
    assert 403 == page.goto(f"/admin/failed-jobs/{job_id}").status  # type: ignore[union-attr]
    assert 403 == page.goto(f"/admin/failed-jobs/{job_id}/evidence/1/screenshot.png").status  # type: ignore[union-attr]


def test_a_paused_portal_is_named_and_an_admin_resumes_it(page: Page, review_app: ReviewApp, jobs: Jobs) -> None:
    """The queue and dashboard name the paused portal and why; an admin's Resume un-pauses it and the banner goes."""
    portal = portal_names()[-1]
    pause(jobs.connection, portal, "Its pages have changed: run the selectors check.")
    try:
        sign_in(page, ADMIN)
        banner = page.locator("#paused-banner")
        expect(banner).to_contain_text(f"{portal}: Its pages have changed: run the selectors check.")
        page.get_by_role("link", name="Dashboard").click()
        expect(banner).to_contain_text(portal)
        banner.get_by_role("button", name=f"Resume {portal}").click()
        expect(page.get_by_role("alert")).to_contain_text(f"{portal} is resumed: 0 waiting submissions queued")
        page.goto("/dashboard")
        expect(page.locator("#paused-banner")).to_have_count(0)
    finally:
        resume(jobs.connection, portal)


@pytest.fixture
def sam_restored(review_app: ReviewApp) -> Iterator[None]:
    """Sam's account as the other tests know it afterwards: enabled, with the shared test password."""
    yield
    with review_app.db.session() as session:
        reset_password(session, "sam.reviewer", PASSWORD, actor="test")


@pytest.mark.usefixtures("sam_restored")
def test_an_admin_re_enables_an_account_and_gives_it_a_new_password(page: Page, review_app: ReviewApp) -> None:
    """From the users page an admin re-enables a disabled account and sets a new password it then signs in with."""
    with review_app.db.session() as session:
        disable_user(session, "sam.reviewer", actor="test")
    sign_in(page, ADMIN)
    page.get_by_role("link", name="Users").click()
    row = page.locator('tr.user-row[data-username="sam.reviewer"]')
    expect(row).to_contain_text("disabled")
    row.get_by_role("button", name="Re-enable sam.reviewer").click()
    expect(page.get_by_role("status")).to_have_text("Account sam.reviewer can sign in again.")
    page.get_by_role("link", name="Set a new password for sam.reviewer").click()
    page.locator("#p-password").fill("weather vane pottery ladder")
    page.locator("#p-password_again").fill("weather vane pottery ladder")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("status")).to_contain_text("Account sam.reviewer has a new password")
    page.get_by_role("button", name="Sign out").click()
    page.goto("/login")
    page.locator("#username").fill("sam.reviewer")
    page.locator("#password").fill("weather vane pottery ladder")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/queue**")
