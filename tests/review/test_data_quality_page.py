"""The data-quality page on bad input: long values folded, blank or implausible corrections refused, one resolution."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.factories import raw_incident
from tests.review.support import ReviewApp, Visitor, data_quality_row
from vhub.store.tables import AuditEventRow, DataQualityItemRow, IncidentRow

DOB_REASON = "people[2].date_of_birth: is not a real calendar date"


def add_item(review_app: ReviewApp, **changes: Any) -> int:
    with review_app.db.session() as session:
        item = data_quality_row(system_id=900 + len(session.scalars(select(DataQualityItemRow.id)).all()), **changes)
        session.add(item)
        session.flush()
        return item.id


def bad_dob_item(review_app: ReviewApp) -> int:
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = "31/02/2016"
    return add_item(review_app, reasons=[DOB_REASON], raw=raw)


def resolutions(review_app: ReviewApp, item_id: int) -> tuple[str, list[str | None]]:
    with review_app.db.session() as session:
        item = session.get_one(DataQualityItemRow, item_id)
        actors = session.scalars(
            select(AuditEventRow.actor).where(
                AuditEventRow.action == "data_quality.resolved", AuditEventRow.entity_id == str(item_id)
            )
        ).all()
        return item.status, list(actors)


@pytest.fixture
def reviewer(review_app: ReviewApp) -> Visitor:
    return review_app.visitor("reviewer")


def test_a_megabyte_value_is_folded_not_shown_inline(review_app: ReviewApp, reviewer: Visitor) -> None:
    """The field's value as read is folded under its start and length, at most 20,000 characters of it are on the
    page, and the correction box starts empty."""
    raw = raw_incident()
    raw["people"][1]["forename"] = "Brandon" * 150_000
    item_id = add_item(
        review_app, reasons=["people[1].forename: is longer than 80 characters, the most VHub keeps"], raw=raw
    )
    page = reviewer.client.get(f"/data-quality/{item_id}")
    assert 200 == page.status_code
    assert len(page.text) < 40_000
    folded = re.search(r"<details class=\"long-text\"><summary>(.*?)</summary>", page.text)
    assert folded is not None
    assert "BrandonBrandon" in folded.group(1) and "(1,050,000 characters) show all" in folded.group(1)
    assert 'name="people[1].forename" value=""' in page.text


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        (" ", "people[2].date_of_birth: is blank: type the corrected value, or resolve the item by hand with a note"),
        ("31/12/1899", "Still not valid: people[2].date_of_birth: is before 1900: check the year of birth"),
    ],
    ids=["blank", "born-1899"],
)
def test_a_blank_or_implausible_correction_is_refused(
    review_app: ReviewApp, reviewer: Visitor, typed: str, problem: str
) -> None:
    """A date of birth left blank, or corrected to 1899, is refused with the field named; nothing is stored."""
    item_id = bad_dob_item(review_app)
    answer = reviewer.client.post(
        f"/data-quality/{item_id}/resolve",
        data={"csrf_token": reviewer.csrf, "action": "correct", "people[2].date_of_birth": typed},
    )
    assert (422, True) == (answer.status_code, problem in answer.text)
    with review_app.db.session() as session:
        assert [] == session.scalars(select(IncidentRow.id)).all()
    assert ("open", []) == resolutions(review_app, item_id)


def test_the_second_person_to_resolve_is_told_who_was_first(review_app: ReviewApp, reviewer: Visitor) -> None:
    """Both opened the item; the second to save gets a 409 naming the first and when, and nothing is recorded."""
    second = review_app.visitor("second")
    item_id = bad_dob_item(review_app)
    first = reviewer.client.post(
        f"/data-quality/{item_id}/resolve",
        data={"csrf_token": reviewer.csrf, "action": "dismiss", "note": "Fixed in the records system."},
    )
    late = second.client.post(
        f"/data-quality/{item_id}/resolve",
        data={"csrf_token": second.csrf, "action": "dismiss", "note": "Also fixed."},
    )
    assert (303, 409) == (first.status_code, late.status_code)
    assert re.search(
        rf"Item #{item_id} was already resolved by alex\.reviewer at \d\d:\d\d; nothing was changed", late.text
    )
    assert ("resolved", ["alex.reviewer"]) == resolutions(review_app, item_id)


@pytest.fixture
def both_past_the_check() -> Iterator[None]:
    """Holds each request, once the transaction in which it read the item has committed, until the other has read
    it too: both requests have seen the item open before either changes it."""
    barrier = threading.Barrier(2)
    local = threading.local()

    def loaded(target: Any, context: Any) -> None:
        local.read_item = True

    def committed(session: Session) -> None:
        if getattr(local, "read_item", False):
            local.read_item = False
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass  # the other request never read the item: it was already told it is resolved

    event.listen(DataQualityItemRow, "load", loaded)
    event.listen(Session, "after_commit", committed)
    yield
    event.remove(Session, "after_commit", committed)
    event.remove(DataQualityItemRow, "load", loaded)


def test_two_people_resolving_at_once_make_one_resolution(
    review_app: ReviewApp, reviewer: Visitor, both_past_the_check: None
) -> None:
    """Two dismissals posted at the same moment: one is resolved and audited, the other is a 409; one note kept."""
    second = review_app.visitor("second")
    item_id = bad_dob_item(review_app)
    answers: dict[str, int] = {}

    def dismiss(visitor: Visitor) -> None:
        data = {"csrf_token": visitor.csrf, "action": "dismiss", "note": f"Checked by {visitor.username}."}
        answers[visitor.username] = visitor.client.post(f"/data-quality/{item_id}/resolve", data=data).status_code

    threads = [threading.Thread(target=dismiss, args=(visitor,)) for visitor in (reviewer, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [303, 409] == sorted(answers.values())
    winner = next(username for username, status in answers.items() if status == 303)
    assert ("resolved", [winner]) == resolutions(review_app, item_id)
    with review_app.db.session() as session:
        assert {"note": f"Checked by {winner}."} == session.get_one(DataQualityItemRow, item_id).resolution


def test_an_isr_request_offers_no_correction_form(review_app: ReviewApp, reviewer: Visitor) -> None:
    """A request is the partner's to correct: the page says so and offers only resolving by hand."""
    item_id = add_item(
        review_app,
        source_system="isr_portal",
        reference="ISR-2026-00042",
        reasons=["due_date: is missing or is not a date (DD/MM/YYYY)"],
        raw={"request_id": "ISR-2026-00042", "due_date": ""},
    )
    page = reviewer.client.get(f"/data-quality/{item_id}")
    assert (200, False, True) == (
        page.status_code,
        'id="correct-form"' in page.text,
        "ask them to correct it in the ISR portal" in page.text,
    )
