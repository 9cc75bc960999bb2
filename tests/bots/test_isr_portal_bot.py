"""The ISR intake bot against the real simulated portal, in a real Chromium: listing, reading, faults, drift."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser
from structlog.testing import capture_logs

from bots.isr_portal import IsrPortalBot
from fixtures.settings import account
from tests.bots.conftest import admin, serving
from vhub import redaction
from vhub.browser import BrowserSession
from vhub.errors import BusinessError, InvalidRecord, SelectorDrift
from vhub.isr import IsrRequest
from vhub.settings import Settings
from vhub.simulated import simulated_system

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEED, INCIDENTS, REQUESTS = 5, 120, 30
USERNAME, PASSWORD = account("isr_portal")


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The ISR portal with 30 requests (two list pages), as its own process."""
    log = tmp_path_factory.mktemp("isr-portal") / "server.log"
    args = ("--seed", str(SEED), "--incidents", str(INCIDENTS), "--requests", str(REQUESTS))
    with serving("fixtures.isr_portal", log, *args) as url:
        yield url


@pytest.fixture(scope="module")
def settings(portal: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("isr-bot") / "var"
    return Settings(data_dir=data_dir, isr_portal=simulated_system("isr_portal", portal))


@pytest.fixture
def bot(settings: Settings, browser: Browser) -> Iterator[IsrPortalBot]:
    """A bot over its own session on pytest-playwright's browser; faults are back to none afterwards."""
    session = BrowserSession(settings, "isr_portal", browser=browser)
    yield IsrPortalBot(settings, session)
    session.close()
    admin(settings.isr_portal.url, "POST", "faults", {"error_rate": 0, "session_requests": 0, "layout": "standard"})


def _truth(bot: IsrPortalBot) -> dict:
    return admin(bot.base_url, "GET", "truth")


def _open_ids(bot: IsrPortalBot) -> list[str]:
    return [item["request_id"] for item in _truth(bot)["requests"] if item["status"] == "Open"]


def _expected(bot: IsrPortalBot) -> dict[str, IsrRequest]:
    return {
        item["request_id"]: IsrRequest.model_validate(item["fields"])
        for item in _truth(bot)["requests"]
        if item["valid"]
    }


def test_lists_every_open_request_across_pages(bot: IsrPortalBot) -> None:
    """The bot follows the pager over both pages and returns every open request id, oldest first."""
    expected = _open_ids(bot)
    assert REQUESTS == len(expected)
    assert expected == bot.list_open_requests()


def test_every_request_read_equals_the_ground_truth(bot: IsrPortalBot) -> None:
    """Each request read through the browser equals the generated request field by field."""
    expected = _expected(bot)
    for request_id in bot.list_open_requests():
        assert expected[request_id] == bot.read_request(request_id)


def test_faults_and_expired_sessions_do_not_change_the_result(bot: IsrPortalBot) -> None:
    """With 20% server errors and each session ended after 6 requests, the list and every request are still exact.
    (Ended by requests served, not by a timer: a timer strikes a slow, busy machine's bot more often.)"""
    expected = _expected(bot)
    admin(bot.base_url, "POST", "faults", {"error_rate": 0.2, "session_requests": 6})
    listed = bot.list_open_requests()
    read = {request_id: bot.read_request(request_id) for request_id in listed}
    stats = admin(bot.base_url, "GET", "stats")
    assert _open_ids(bot) == listed
    assert {request_id: expected[request_id] for request_id in listed} == read
    assert stats["errors_injected"] > 0 and stats["session_expiries"] > 0, stats


def test_a_request_that_fails_validation_raises_invalid_record(bot: IsrPortalBot) -> None:
    """A request with an impossible date of birth is InvalidRecord naming the field, never the value."""
    planted = {
        "requester": "Shropshire Compass",
        "requester_authority": "shropshire",
        "purpose": "Section 47 enquiry",
        "lawful_basis": "Children Act 1989 s47",
        "subjects": [{"forename": "Casey", "surname": "Testperson", "date_of_birth": "31/02/2016"}],
    }
    request_id = admin(bot.base_url, "POST", "requests", [planted])["added"][0]["request_id"]
    assert request_id in bot.list_open_requests()
    with pytest.raises(InvalidRecord) as caught:
        bot.read_request(request_id)
    assert ["subjects[0].date_of_birth: is not a real calendar date"] == caught.value.reasons
    assert f"{request_id} could not be read: subjects[0].date_of_birth: is not a real calendar date" == (
        caught.value.message
    )


def test_unknown_request_is_a_business_error(bot: IsrPortalBot) -> None:
    """A request the portal does not show is a not-found business error, not a retry."""
    with pytest.raises(BusinessError) as caught:
        bot.read_request("ISR-2026-99999")
    assert "not_found" == caught.value.code


def test_subjects_are_remembered_and_never_logged(bot: IsrPortalBot) -> None:
    """Names and dates of birth read are masked by the redactor, and no log event carries them."""
    item = next(
        item for item in _truth(bot)["requests"] if item["valid"] and item["fields"]["subjects"][0]["date_of_birth"]
    )
    subject = item["fields"]["subjects"][0]
    redaction.forget()
    with capture_logs() as events:
        bot.read_request(item["request_id"])
    personal = [subject["forename"], subject["surname"], subject["date_of_birth"]]
    assert [] == [value for value in personal if value in repr(events)]
    assert ["[name]"] * 3 == [redaction.redact_text(value) for value in personal]
    redaction.forget()


def _field(name: str, html: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match is not None, name
    return match.group(1)


def _respond_over_http(url: str, request_id: str) -> httpx.Response:
    """Sign in and post a response as a person at the police would, without the bot."""
    with httpx.Client(base_url=url, follow_redirects=True, timeout=10) as client:
        token = _field("csrf_token", client.get("/login").text)
        client.post("/login", data={"csrf_token": token, "username": USERNAME, "password": PASSWORD})
        detail = client.get(f"/requests/{request_id}").text
        form = {name: _field(name, detail) for name in ("csrf_token", "submission_key")}
        return client.post(f"/requests/{request_id}/response", data={**form, "response_text": "No trace."})


def test_responded_requests_are_not_listed(bot: IsrPortalBot) -> None:
    """Once the portal holds a response to a request, the bot no longer lists it as open."""
    request_id = _open_ids(bot)[0]
    assert 200 == _respond_over_http(bot.base_url, request_id).status_code
    listed = bot.list_open_requests()
    assert request_id not in listed
    assert _open_ids(bot) == listed


def test_variant_layout_raises_selector_drift(bot: IsrPortalBot) -> None:
    """A changed page layout fails at once with SelectorDrift naming the locator, and is not retried."""
    admin(bot.base_url, "POST", "faults", {"layout": "variant"})
    before = admin(bot.base_url, "GET", "stats")["requests"]
    with pytest.raises(SelectorDrift) as caught:
        bot.list_open_requests()
    assert ("isr_portal", "sign_in", "username") == (caught.value.system, caught.value.page, caught.value.locator)
    assert admin(bot.base_url, "GET", "stats")["requests"] - before <= 2
