"""The review queue end to end in Chromium: search, assign, bulk approve and return, sort, export and reopen."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import PASSWORD, PLANTED_REFERENCE, ReviewApp, sign_in
from vhub.runtime import Child, free_port, wait_for_http
from vhub.settings import Settings
from vhub.store.tables import (
    AuditEventRow,
    DraftRow,
    IncidentPersonRow,
    IncidentRow,
    PersonRow,
    UserRow,
    WebSessionRow,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

SUSPECT = "Brandon Examplename"  # a person of the planted incident (tests/factories.py), nominal N100002
RISK_RANK = {"red": 0, "amber": 1, "green": 2, "blue": 3}


def listed(page: Page) -> list[tuple[str, int]]:
    """The (kind, number) of every row the queue lists on this page, in order."""
    rows = page.locator("#queue tbody tr")
    return [
        (str(rows.nth(n).get_attribute("data-kind")), int(rows.nth(n).get_attribute("data-id") or 0))
        for n in range(rows.count())
    ]


def total(page: Page) -> int:
    """The "N items" the queue says it lists."""
    match = re.match(r"(\d+) items?", page.locator("#total").inner_text())
    assert match, page.locator("#total").inner_text()
    return int(match.group(1))


def option_count(page: Page, select_id: str, value: str) -> int:
    text = page.locator(f"#{select_id} option[value='{value}']").inner_text()
    match = re.search(r"\((\d+)\)$", text)
    assert match, text
    return int(match.group(1))


def search(page: Page, term: str) -> None:
    page.locator("#q").fill(term)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#searching")).to_contain_text(term)


def events(review_app: ReviewApp, action: str, entity_id: str | None = None) -> list[AuditEventRow]:
    with review_app.db.session() as session:
        query = select(AuditEventRow).where(AuditEventRow.action == action)
        if entity_id is not None:
            query = query.where(AuditEventRow.entity_id == entity_id)
        rows = list(session.scalars(query.order_by(AuditEventRow.id)))
        session.expunge_all()
        return rows


def set_draft(review_app: ReviewApp, draft_id: int, **values: object) -> None:
    """Arrange a draft for a test (a risk, a type) as triage could have drafted it."""
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, draft_id)
        for name, value in values.items():
            setattr(draft, name, value)


def user_id(review_app: ReviewApp, username: str) -> int:
    with review_app.db.session() as session:
        return session.scalars(select(UserRow.id).where(UserRow.username == username)).one()


def waiting_drafts(review_app: ReviewApp, references: set[str]) -> set[int]:
    """Drafts of these incidents that wait for a person."""
    with review_app.db.session() as session:
        return set(
            session.scalars(
                select(DraftRow.id).where(DraftRow.source_ref.in_(references), DraftRow.status == "awaiting_review")
            )
        )


def references_of(review_app: ReviewApp, nominal: str) -> set[str]:
    """The incidents naming this nominal."""
    with review_app.db.session() as session:
        return set(
            session.scalars(
                select(IncidentRow.reference)
                .join(IncidentPersonRow, IncidentPersonRow.incident_id == IncidentRow.id)
                .join(PersonRow, PersonRow.id == IncidentPersonRow.person_id)
                .where(PersonRow.nominal_ref == nominal)
            )
        )


def test_search_by_reference_name_nominal_number_and_school_keeps_names_out_of_addresses(
    page: Page, review_app: ReviewApp
) -> None:
    """Each kind of search lists what matches, the term is posted and kept in the session (never in an address),
    and signing out forgets it."""
    with review_app.db.session() as session:
        other = session.scalars(
            select(DraftRow).where(DraftRow.source_ref != PLANTED_REFERENCE, DraftRow.status == "awaiting_review")
        ).first()
        assert other is not None
        other_id, school = other.id, other.recipient_name
    addresses: list[str] = []
    page.on("request", lambda request: addresses.append(request.url))
    sign_in(page, "alex.reviewer")

    suspects = references_of(review_app, "N100002")
    assert PLANTED_REFERENCE in suspects
    for term, references in (
        (PLANTED_REFERENCE, {PLANTED_REFERENCE}),
        (SUSPECT, suspects),
        ("examplename", suspects),
        ("N100002", suspects),
    ):
        search(page, term)
        expected = waiting_drafts(review_app, references)
        assert expected and expected == {number for kind, number in listed(page) if kind == "draft"}, term
        assert total(page) == len(listed(page)) == option_count(page, "f-status", "to_do")

    search(page, f"#{other_id}")
    assert ("draft", other_id) in listed(page)
    search(page, school)
    assert ("draft", other_id) in listed(page)
    with review_app.db.session() as session:
        numbers = [number for kind, number in listed(page) if kind == "draft"]
        schools = set(session.scalars(select(DraftRow.recipient_name).where(DraftRow.id.in_(numbers))))
    assert {school} == schools

    search(page, SUSPECT)
    page.get_by_role("button", name="Clear search").click()
    expect(page.locator("#searching")).to_have_count(0)
    search(page, SUSPECT)
    assert addresses and not [address for address in addresses if "examplename" in address.lower()]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login**")
    with review_app.db.session() as session:
        assert [] == [term for term in session.scalars(select(WebSessionRow.queue_search)) if term]


def test_assign_to_me_shows_the_owner_and_lists_the_item_in_my_items(page: Page, review_app: ReviewApp) -> None:
    """ "Assign to me" makes the signed-in person the owner, shown in the list and in "My items", and is audited."""
    draft_id = review_app.take()
    sign_in(page, "sam.reviewer")
    page.goto("/queue")
    search(page, f"#{draft_id}")
    row = page.locator(f"#queue tbody tr[data-kind=draft][data-id='{draft_id}']")
    row.get_by_role("button", name=f"Assign draft #{draft_id} to me").click()
    page.wait_for_url("**/queue?*done=assigned*")
    expect(row.locator("td.owner")).to_contain_text("Sam Reviewer")
    page.get_by_role("button", name="Clear search").click()
    page.get_by_role("link", name="My items").click()
    page.wait_for_url("**/queue?status=open&owner=me")
    assert ("draft", draft_id) in listed(page)
    assert total(page) == option_count(page, "f-owner", "me")
    assert review_app.draft(draft_id).owner_id == user_id(review_app, "sam.reviewer")
    (event,) = events(review_app, "draft.assigned", str(draft_id))
    assert ("sam.reviewer", {"owner": None}, "Sam Reviewer") == (event.actor, event.before, event.after["owner"])


@pytest.fixture(scope="module")
def bulk_policy_app(
    review_settings: Settings, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second review app over the same store whose policy allows approving green notices in bulk."""
    policy = tmp_path_factory.mktemp("policy") / "review.toml"
    policy.write_text("[bulk]\napprove_green_encompass = true\n")
    port = free_port()
    env = {
        **os.environ,
        "VHUB_DATA_DIR": str(review_settings.data_path),
        "VHUB_DATABASE_URL": review_settings.database_url,
        "VHUB_REDIS_URL": redis_url,
        "VHUB_REVIEW_POLICY": str(policy),
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, "-m", "vhub", "review", "serve", "--host", "127.0.0.1", "--port", str(port)]
    child = Child("review-bulk", argv, env, review_settings.log_dir / "review-bulk.out")
    child.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", child)
        yield url
    finally:
        child.signal(signal.SIGTERM)
        if not child.wait(10):
            child.signal(signal.SIGKILL)
            child.wait(5)
        child.close_log()


def tick(page: Page, *draft_ids: int) -> None:
    for draft_id in draft_ids:
        page.locator(f"#tick-draft-{draft_id}").check()


def test_bulk_approval_approves_green_notices_and_refuses_the_rest_saying_why(
    page: Page, review_app: ReviewApp, bulk_policy_app: str
) -> None:
    """Where policy allows it, ticked green Operation Encompass notices are approved as the person's own audited
    decisions and queued; a red notice, a referral and a notice flagged for a look are refused, each with why."""
    green = [review_app.take(workflow="encompass") for _ in range(2)]
    red, flagged = review_app.take(workflow="encompass"), review_app.take(workflow="encompass")
    referral = review_app.take(workflow="referral", not_risk="red")
    for draft_id in (*green, flagged):
        set_draft(review_app, draft_id, risk="green")
    set_draft(review_app, red, risk="red")
    set_draft(review_app, referral, risk="green")
    set_draft(review_app, flagged, needs_attention=True, attention_reason="A newer version of the incident exists.")
    page.goto(f"{bulk_policy_app}/login")
    page.locator("#username").fill("alex.reviewer")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/queue**")
    page.goto(f"{bulk_policy_app}/queue?type=&status=&sort=created&dir=desc")
    for draft_id in (*green, red, flagged, referral):
        search(page, f"#{draft_id}")
        tick(page, draft_id)
        page.locator("#bulk-action").select_option("approve")
        page.get_by_role("button", name="Apply to ticked items").click()
        expect(page.locator("#bulk-done")).to_be_visible()
        if draft_id in green:
            expect(page.locator("#done-items")).to_contain_text(f"Draft #{draft_id}")
        else:
            expect(page.locator("#refused-items")).to_contain_text(f"Draft #{draft_id}")
        page.get_by_role("link", name="Back to the queue").click()

    for draft_id in green:
        assert "approved" == review_app.draft(draft_id).status
        assert [("approved", "alex.reviewer")] == review_app.decisions(draft_id)
        (approved,) = review_app.audit(draft_id, "draft.approved")
        assert ("alex.reviewer", True) == (approved.actor, approved.after["bulk"])
        assert 1 == len(review_app.submit_jobs(draft_id))
    for draft_id in (red, flagged, referral):
        assert ("awaiting_review", []) == (review_app.draft(draft_id).status, review_app.decisions(draft_id))


def test_bulk_approval_is_refused_everywhere_when_policy_turns_it_off(page: Page, review_app: ReviewApp) -> None:
    """With the policy off (as shipped), the queue offers no bulk approval and a posted one approves nothing."""
    draft_id = review_app.take(workflow="encompass")
    set_draft(review_app, draft_id, risk="green")
    sign_in(page, "alex.reviewer")
    expect(page.locator("#bulk-action option[value=approve]")).to_have_count(0)
    version = review_app.draft(draft_id).row_version
    token = page.locator("#bulk input[name=csrf_token]").input_value()
    answer = page.request.post(
        "/queue/bulk", form={"csrf_token": token, "action": "approve", "item": f"draft:{draft_id}:{version}"}
    )
    assert 422 == answer.status
    assert "turned off by policy" in answer.text()
    assert "awaiting_review" == review_app.draft(draft_id).status


def test_bulk_return_needs_a_reason_and_gives_the_drafts_an_owner_and_a_reopen(
    page: Page, review_app: ReviewApp
) -> None:
    """Returned in bulk with one reason, each draft is owned by the person who returned it and listed under
    "Returned"; reopened with a note, it is back in review through the state machine, audited."""
    first, second = review_app.take(), review_app.take()
    sign_in(page, "sam.reviewer")
    page.goto("/queue?sort=created&dir=desc")
    search(page, f"#{first}")
    tick(page, first)
    page.locator("#bulk-action").select_option("return")
    page.get_by_role("button", name="Apply to ticked items").click()
    expect(page.locator("h1")).to_contain_text("Nothing done")
    expect(page.locator("main")).to_contain_text("Say what needs fixing")
    assert "awaiting_review" == review_app.draft(first).status

    for draft_id in (first, second):
        page.goto("/queue")
        search(page, f"#{draft_id}")
        tick(page, draft_id)
        page.locator("#bulk-action").select_option("return")
        page.locator("#bulk-reason").fill("The school on the record is last year's.")
        page.get_by_role("button", name="Apply to ticked items").click()
        expect(page.locator("#done-items")).to_contain_text(f"Draft #{draft_id}")
    sam = user_id(review_app, "sam.reviewer")
    for draft_id in (first, second):
        assert ("returned", sam) == (review_app.draft(draft_id).status, review_app.draft(draft_id).owner_id)
        assert [("returned", "sam.reviewer")] == review_app.decisions(draft_id)
        (assigned,) = events(review_app, "draft.assigned", str(draft_id))
        assert {"owner": "Sam Reviewer", "why": "returned"} == assigned.after

    page.goto("/queue")
    page.get_by_role("button", name="Clear search").click()
    page.get_by_role("link", name="My items").click()
    page.wait_for_url("**/queue?status=open&owner=me")
    expect(page.locator(f"#queue tbody tr[data-kind=draft][data-id='{second}']")).to_be_visible()
    page.get_by_role("link", name="Returned", exact=True).click()
    page.wait_for_url("**/queue?status=returned")
    assert total(page) == option_count(page, "f-status", "returned")
    search(page, f"#{first}")
    row = page.locator(f"#queue tbody tr[data-kind=draft][data-id='{first}']")
    expect(row.locator("td.owner")).to_contain_text("Sam Reviewer")
    expect(row.locator("td.status")).to_contain_text("Returned for a data fix")
    row.get_by_role("link", name="Reopen").click()
    page.wait_for_url(f"**/drafts/{first}/reopen")
    page.locator("#note").fill("The records team corrected the school.")
    page.get_by_role("button", name="Reopen for review").click()
    page.wait_for_url("**/queue?*done=reopened*")
    expect(page.locator(".done")).to_have_text(f"Draft #{first}: Reopened: the draft is back in the queue for review.")
    reopened = review_app.draft(first)
    assert ("awaiting_review", 2) == (reopened.status, reopened.content_version)
    assert [("returned", "sam.reviewer"), ("reopened", "sam.reviewer")] == review_app.decisions(first)
    (event,) = review_app.audit(first, "draft.reopened")
    assert ({"status": "returned"}, "awaiting_review") == (event.before, event.after["status"])


def test_sorting_by_each_column_orders_the_rows_both_ways(page: Page, review_app: ReviewApp) -> None:
    """A column heading sorts the list by it, a second click the other way; the status column shows each status."""
    sign_in(page, "alex.reviewer")
    page.goto("/queue?status=")

    def values(sort: str) -> list[object]:
        with review_app.db.session() as session:
            rows = {
                d.id: d for d in session.scalars(select(DraftRow).where(DraftRow.id.in_([n for _, n in listed(page)])))
            }
        drafts = [rows[n] for kind, n in listed(page) if kind == "draft"]
        if sort == "risk":
            return [RISK_RANK.get(d.risk or "", 4) for d in drafts]
        if sort == "created":
            return [d.created_at for d in drafts]
        return [getattr(d, {"type": "workflow"}.get(sort, sort)) or "~" for d in drafts]

    for sort, heading in (("risk", "Risk"), ("created", "Created"), ("type", "Type"), ("authority", "Authority")):
        page.get_by_role("link", name=heading, exact=True).click()
        page.wait_for_url(f"**/queue?*sort={sort}*")
        expect(page.locator("th[aria-sort=ascending] a.sort")).to_contain_text(heading)
        ascending = values(sort)
        assert ascending == sorted(ascending), sort
        page.get_by_role("link", name=heading, exact=True).click()
        page.wait_for_url(f"**/queue?*sort={sort}*dir=desc*")
        descending = [value for value in values(sort) if value not in (4, "~")]
        assert descending == sorted(descending, reverse=True), sort
    statuses = set(page.locator("#queue td.status").all_inner_texts())
    assert statuses and statuses <= {"Awaiting review", "Awaiting second approval"}


def test_every_filter_option_counts_what_it_lists(page: Page, review_app: ReviewApp) -> None:
    """Chosen, each option of each filter lists as many items as it said it would (the "Waiting for a person (all)"
    option included)."""
    sign_in(page, "alex.reviewer")
    for select_id, values in (
        ("f-status", ("to_do", "open", "awaiting_review", "second_approval", "returned", "approved", "rejected")),
        ("f-type", ("referral", "encompass", "data_quality")),
        ("f-overdue", ("yes", "no")),
        ("f-owner", ("me", "none")),
    ):
        for value in values:
            page.goto("/queue")
            expected = option_count(page, select_id, value)
            page.locator(f"#{select_id}").select_option(value)
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url(f"**/queue?*{select_id[2:]}={value}*")
            assert expected == total(page) == option_count(page, select_id, value), (select_id, value)


def test_the_export_holds_the_current_view_safely_and_is_audited(
    page: Page, review_app: ReviewApp, tmp_path: Path
) -> None:
    """Export writes every row of the view (all pages) as CSV, in the view's order, a formula-like cell as text,
    and records who exported which items."""
    draft_id = review_app.take(workflow="referral")
    set_draft(review_app, draft_id, recipient_name='=HYPERLINK("http://example.invalid")')
    sign_in(page, "alex.reviewer")
    page.goto("/queue?sort=created&dir=desc")
    shown = total(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export this view (CSV)").click()
    path = tmp_path / "queue.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert shown == len(rows) > 25
    assert [row["number"] for row in rows[:25]] == [str(number) for _, number in listed(page)]
    (mine,) = [row for row in rows if (row["item"], row["number"]) == ("Draft", str(draft_id))]  # not item #1
    assert mine["recipient"].startswith("'=HYPERLINK")
    exported = events(review_app, "queue.exported")[-1]
    assert ("alex.reviewer", shown, {"status": "to_do"}) == (
        exported.actor,
        exported.after["rows"],
        exported.after["filters"],
    )
    assert draft_id in exported.after["drafts"]
