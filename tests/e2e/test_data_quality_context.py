"""A data-quality item in Chromium: the record in plain words (who, which incident, when, which field) and a
deadline, the action it holds up, that puts it in the queue beside the drafts due at the same time."""

from __future__ import annotations

from functools import partial

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import ReviewApp, sign_in
from tests.factories import raw_incident
from vhub.intake import Invalid, keep_invalid, read_valid
from vhub.models import parse_uk_datetime, validate_incident
from vhub.store.tables import DataQualityItemRow
from vhub.triage import load_config
from vhub.triage.blocking import blocked_by_invalid_record

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_an_item_shows_its_record_in_plain_words_and_is_queued_by_its_deadline(
    page: Page, review_app: ReviewApp
) -> None:
    """An unreadable record from an incident older than every draft is first in the queue (its deadline is the
    soonest), and its page names the child, the incident, when it happened and the field in plain words."""
    raw = raw_incident(reference="OCC/26/990301", system_id=990301, occurred_at="02/01/2020 21:30:00 GMT")
    raw["people"][2]["date_of_birth"] = "31/02/2016"
    invalid = read_valid(lambda: raw, validate_incident)
    assert isinstance(invalid, Invalid)
    with review_app.db.session() as session:
        keep_invalid(
            session,
            invalid,
            system="records_system",
            system_id=990301,
            reference=raw["reference"],
            version=parse_uk_datetime(raw["last_modified"]),
            actor="ingest",
            blocked=partial(blocked_by_invalid_record, config=load_config()),
        )
        item_id = session.scalars(select(DataQualityItemRow.id).where(DataQualityItemRow.system_id == 990301)).one()

    sign_in(page, "alex.reviewer")
    page.goto("/queue")
    expect(page.locator("#queue tbody tr").first.get_by_role("link")).to_have_text(f"Data quality #{item_id}")
    page.get_by_role("link", name=f"Data quality #{item_id}", exact=True).click()
    page.wait_for_url(f"**/data-quality/{item_id}")

    expect(page.locator("#dq-reasons")).to_have_text(
        "Date of birth of child Casey Testperson (N100003): is not a real calendar date"
    )
    expect(page.locator("main")).to_contain_text("incident OCC/26/990301")
    expect(page.locator("#dq-occurred")).to_have_text("02/01/2020 21:30")
    expect(page.locator("#dq-blocks")).to_contain_text("every action of the incident")
    expect(page.locator("#dq-blocks")).to_contain_text("overdue by")
    expect(page.locator("#dq-people")).to_contain_text("victim")
    expect(page.get_by_label("Date of birth of child Casey Testperson (N100003)")).to_have_value("31/02/2016")
    expect(page.locator("main")).not_to_contain_text("people[2].date_of_birth")
