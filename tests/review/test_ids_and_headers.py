"""Record ids in addresses are checked before they reach the store, and every answer, errors included, carries
the security headers."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from tests.fixtures.sessions import TestClient
from tests.review.support import ACCOUNTS, ReviewApp
from vhub.review import dashboard
from vhub.review.record_ids import IdConvertor

NOT_IDS = ["99999999999999999999", "9223372036854775808", "0", "-5", "12abc"]
ADDRESSES = [
    ("GET", "/drafts/{}"),
    ("POST", "/drafts/{}/decide"),
    ("GET", "/data-quality/{}"),
    ("POST", "/data-quality/{}/resolve"),
]


def assert_security_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert ("nosniff", "no-store", "DENY") == (
        headers.get("x-content-type-options"),
        headers.get("cache-control"),
        headers.get("x-frame-options"),
    )
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", "")


@pytest.mark.parametrize("value", NOT_IDS)
@pytest.mark.parametrize(("method", "address"), ADDRESSES)
def test_an_address_with_no_valid_id_is_not_found(review_app: ReviewApp, method: str, address: str, value: str) -> None:
    """An id that is not a positive integer the store can hold is the ordinary not-found page, with headers."""
    reviewer = review_app.visitor("reviewer")
    url = address.format(value)
    if method == "GET":
        response = reviewer.client.get(url)
    else:
        response = reviewer.client.post(url, data={"csrf_token": reviewer.csrf, "action": "save", "row_version": "1"})
    assert 404 == response.status_code
    assert "There is nothing at this address." in response.text
    assert_security_headers(response)


@pytest.mark.parametrize(
    ("value", "matches"),
    [("1", True), ("10", True), (str(2**31 - 1), True), (str(2**31), False), ("0", False), ("07", False)],
)
def test_the_id_convertor_accepts_exactly_the_ids_the_store_holds(value: str, matches: bool) -> None:
    """The id pattern takes 1 to 2**31 - 1 (PostgreSQL's integer) written plainly, and nothing else."""
    assert matches == (re.fullmatch(IdConvertor.regex, value) is not None)


def test_every_route_with_an_id_uses_the_id_convertor(review_app: ReviewApp) -> None:
    """No route reads a record id with a convertor that lets an out-of-range number through."""
    loose = [
        route.path
        for route in review_app.app.routes
        if isinstance(route, Route)
        for name, convertor in route.param_convertors.items()
        if name.endswith("_id") and not isinstance(convertor, IdConvertor)
    ]
    assert [] == loose


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/nowhere", 404), ("GET", "/drafts/1/decide", 405)])
def test_starlettes_own_errors_carry_the_headers(review_app: ReviewApp, method: str, path: str, status: int) -> None:
    """An unknown address and a wrong method are answered with the security headers."""
    response = review_app.visitor("reviewer").client.request(method, path)
    assert status == response.status_code
    assert_security_headers(response)


def test_an_unexpected_failure_is_a_plain_page_with_the_headers(
    review_app: ReviewApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page that raises answers 500 with the security headers and no word of the exception."""

    def broken(jobs: object) -> object:
        raise RuntimeError("internal detail OCC/26/000101 at line 42")

    monkeypatch.setattr(dashboard, "queue_figures", broken)
    client = TestClient(review_app.app, follow_redirects=False, raise_server_exceptions=False)
    review_app.clients.append(client)
    assert 303 == review_app.sign_in(client, ACCOUNTS["reviewer"][0]).status_code
    response = client.get("/dashboard")
    assert 500 == response.status_code
    assert_security_headers(response)
    assert "Something went wrong" in response.text
    assert [] == [
        word for word in ("internal detail", "OCC/26/000101", "RuntimeError", "Traceback") if word in response.text
    ]
