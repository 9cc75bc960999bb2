"""A number too large for the store's id columns (PostgreSQL's are 32-bit) is an unknown record wherever a person
can type one: an address, a form field, a search, a filter. Never a server error, on either engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.review.support import ReviewApp, Visitor
from vhub.store.tables import LARGEST_ID

pytestmark = pytest.mark.both_engines

TOO_LARGE = [str(LARGEST_ID + 1), "99999999999"]
NOT_NUMBERS = ["\u00b2", "\u0663"]  # digits to str.isdigit, not to int() or not ASCII


ADDRESSES = {  # each address that takes an id, with the methods it answers
    "/drafts/{}": ("GET",),
    "/drafts/{}/decide": ("POST",),
    "/drafts/{}/reopen": ("GET", "POST"),
    "/data-quality/{}": ("GET",),
    "/data-quality/{}/resolve": ("POST",),
}


def test_an_address_with_an_id_beyond_the_store_is_not_found(review_app: ReviewApp) -> None:
    """An id past the largest the store holds, in any address that takes one (read or posted to), is the ordinary
    not-found page, not an integer overflow."""
    reviewer = review_app.visitor("reviewer")
    form = {"csrf_token": reviewer.csrf, "action": "save", "row_version": "1", "note": "n"}
    answers = {
        (method, address.format(value)): (
            reviewer.client.get(address.format(value))
            if method == "GET"
            else reviewer.client.post(address.format(value), data=form)
        )
        for value in TOO_LARGE
        for address, methods in ADDRESSES.items()
        for method in methods
    }
    assert {key: (404, True) for key in answers} == {
        key: (answer.status_code, "<h1>Not found</h1>" in answer.text) for key, answer in answers.items()
    }


def test_the_largest_id_is_looked_up(review_app: ReviewApp) -> None:
    """The largest id the store holds reaches the page, which says there is no such draft or item."""
    reviewer = review_app.visitor("reviewer")
    for address, words in [("/drafts/{}", "There is no draft #"), ("/data-quality/{}", "There is no data-quality")]:
        response = reviewer.client.get(address.format(LARGEST_ID))
        assert (404, True) == (response.status_code, words in response.text)


def _post(visitor: Visitor, url: str, **data: Any) -> Any:
    return visitor.client.post(url, data={"csrf_token": visitor.csrf, **data})


@pytest.mark.parametrize("value", TOO_LARGE)
def test_form_fields_with_an_id_beyond_the_store_name_no_record(review_app: ReviewApp, value: str) -> None:
    """Assigning, bulk actions, a row version, a search, the queue's, the audit's and a failed job's evidence numbers
    take a too-large number as an unknown record and say so, or list nothing."""
    reviewer = review_app.visitor("reviewer")
    draft = review_app.ids["draft"]

    assigned = _post(reviewer, "/queue/assign", item=f"draft:{value}")
    assert (409, True) == (assigned.status_code, "Not assigned" in assigned.text)

    for action in ("assign", "return"):
        bulk = _post(reviewer, "/queue/bulk", action=action, item=f"draft:{value}:{value}", owner="nobody", reason="r")
        assert (422, True) == (bulk.status_code, "Tick at least one item" in bulk.text), action

    stale = _post(reviewer, f"/drafts/{draft}/decide", action="reject", row_version=value, reason="not needed")
    assert (409, True) == (stale.status_code, "changed" in stale.text)

    searched = _post(reviewer, "/queue/search", q=f"#{value}")
    assert 303 == searched.status_code
    queue = reviewer.client.get(f"/queue?page={value}&draft={value}")
    assert 200 == queue.status_code
    assert 'class="empty"' in queue.text
    exported = _post(reviewer, "/queue/export")
    assert (200, 1) == (exported.status_code, len(exported.text.strip().splitlines()))

    assert 303 == reviewer.client.get(f"/queue/next?after={value}").status_code
    admin = review_app.visitor("admin")
    for address in (f"/audit?draft=%23{value}&page={value}", f"/audit.csv?draft={value}"):
        assert 200 == admin.client.get(address).status_code, address
    evidence = admin.client.get(f"/admin/failed-jobs/no-such-job/evidence/{value}/screenshot.png")
    assert (404, True) == (evidence.status_code, "no such evidence file" in evidence.text)


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_characters_that_pass_for_digits_name_no_record(review_app: ReviewApp, value: str) -> None:
    """A superscript or Arabic-Indic digit in a ticked row, a search or the audit's draft filter is no number."""
    reviewer = review_app.visitor("reviewer")
    bulk = _post(reviewer, "/queue/bulk", action="assign", item=f"draft:1:{value}", owner="nobody")
    assert (422, True) == (bulk.status_code, "Tick at least one item" in bulk.text)
    assert 303 == _post(reviewer, "/queue/search", q=f"#{value}{value}").status_code
    assert 200 == reviewer.client.get("/queue").status_code
    audit = review_app.visitor("admin").client.get("/audit", params={"draft": value})
    assert (422, True) == (audit.status_code, "A draft number is digits only" in audit.text)
