"""The ISR response bot against the real simulated ISR portal, in a real Chromium: a response drafted from
real records lands on its request exactly once, with the reviewed text, whatever the portal does."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser
from structlog.testing import capture_logs

from bots.isr_portal import IsrResponder
from bots.submission import PartnerRejected, Submission, submission_key
from tests.bots.conftest import (
    admin,
    check_a_lost_confirmation_is_found_not_sent_again,
    check_a_second_delivery_finds_the_first,
    check_a_session_ended_before_the_post_still_sends_once,
    serving,
)
from tests.factories import raw_incident
from vhub import redaction
from vhub.browser import BrowserSession
from vhub.drafting import draft_isr_response, load_drafting_config, summarise_for_subject
from vhub.errors import SelectorDrift
from vhub.isr import IsrRequest, SubjectFinding
from vhub.models import validate_incident
from vhub.settings import Settings
from vhub.simulated import simulated_system

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PREPARED_AT = datetime(2026, 11, 26, 11, 5, tzinfo=UTC)
_draft_ids = itertools.count(5001)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The ISR portal over a small records truth, as its own process."""
    log = tmp_path_factory.mktemp("isr-portal") / "server.log"
    with serving("fixtures.isr_portal", log, "--seed", "5", "--incidents", "40", "--requests", "3") as url:
        yield url


@pytest.fixture(scope="module")
def settings(portal: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("isr-responder") / "var"
    return Settings(data_dir=data_dir, isr_portal=simulated_system("isr_portal", portal))


@pytest.fixture
def bot(settings: Settings, browser: Browser) -> Iterator[IsrResponder]:
    """A bot over its own session on pytest-playwright's browser; faults are back to none afterwards."""
    session = BrowserSession(settings, "isr_portal", browser=browser)
    yield IsrResponder(settings, session)
    session.close()
    admin(settings.isr_portal.url, "POST", "faults", {"confirmation_failure_rate": 0, "layout": "standard"})


def _response(bot: IsrResponder) -> Submission:
    """A new request on the portal naming the factory victim and a man with no record, and its drafted response."""
    planted = {
        "requester": "Shropshire Compass",
        "requester_authority": "shropshire",
        "purpose": "Section 47 enquiry",
        "lawful_basis": "Children Act 1989 s47",
        "subjects": [
            {"forename": "Alexandra", "surname": "Testperson", "date_of_birth": "02/05/1991"},
            {"forename": "Dominic", "surname": "Nofinding", "date_of_birth": "30/11/1985"},
        ],
    }
    request_id = admin(bot.base_url, "POST", "requests", [planted])["added"][0]["request_id"]
    fields = next(
        item["fields"] for item in admin(bot.base_url, "GET", "truth")["requests"] if item["request_id"] == request_id
    )
    request = IsrRequest.model_validate(fields)
    incident = validate_incident(raw_incident())
    victim, other = request.subjects
    findings = [
        SubjectFinding(**victim.model_dump(), incidents=(summarise_for_subject(incident, "N100001"),)),
        SubjectFinding(**other.model_dump(), incidents=()),
    ]
    draft = draft_isr_response(request, findings, load_drafting_config(), prepared_at=PREPARED_AT)
    draft_id = next(_draft_ids)
    return Submission(
        draft_id=draft_id,
        key=submission_key(draft_id, f"isr_response:{request_id}"),
        workflow=draft.workflow.value,
        recipient=draft.recipient.model_dump(mode="json"),
        payload=draft.payload,
        text=draft.text,
        source_ref=request_id,
    )


def _held(bot: IsrResponder, key: str) -> list[dict[str, Any]]:
    return [item for item in admin(bot.base_url, "GET", "responses")["responses"] if item["submission_key"] == key]


def _status(bot: IsrResponder, request_id: str) -> str:
    return next(
        item["status"] for item in admin(bot.base_url, "GET", "truth")["requests"] if item["request_id"] == request_id
    )


def test_response_lands_once_with_the_reviewed_text(bot: IsrResponder) -> None:
    """The reviewed text reaches its request once under the bot's key; the request is Responded; ISRRESP is returned."""
    submission = _response(bot)
    reference, submitted = bot.deliver(submission)
    [held] = _held(bot, submission.key)
    assert (held["partner_reference"], True) == (reference, submitted)
    assert (submission.source_ref, submission.text) == (held["request_id"], held["response_text"].replace("\r\n", "\n"))
    assert "Responded" == _status(bot, submission.source_ref)
    assert reference.startswith("ISRRESP-")
    assert "Alexandra Testperson" in submission.text and "No trace" in submission.text


def test_delivering_twice_submits_once(bot: IsrResponder) -> None:
    """A second delivery finds the first response on the request page by its key: one response, one reference."""
    check_a_second_delivery_finds_the_first(bot, _response(bot))


def test_lost_confirmation_is_unconfirmed_then_found(bot: IsrResponder) -> None:
    """When the portal keeps the response but its confirmation fails, the next delivery finds it, sending nothing."""
    check_a_lost_confirmation_is_found_not_sent_again(bot, _response(bot))


def test_blank_response_is_rejected_in_the_portals_words(bot: IsrResponder) -> None:
    """A response the portal refuses (blank) is PartnerRejected with its message, and nothing is held."""
    submission = _response(bot)
    with pytest.raises(PartnerRejected) as caught:
        bot.deliver(Submission(**{**submission.__dict__, "text": "   "}))
    assert "Enter a response of 1 to 100,000 characters." == caught.value.partner_message
    assert ([], "Open") == (_held(bot, submission.key), _status(bot, submission.source_ref))


def test_session_expired_mid_form_still_sends_once(bot: IsrResponder) -> None:
    """Sessions ended just before the response is posted: the bot signs in, reads the request, sends once."""
    check_a_session_ended_before_the_post_still_sends_once(bot, _response(bot), "**/requests/*/response")


def test_subjects_are_remembered_and_never_logged(bot: IsrResponder) -> None:
    """The named subjects of the response are masked by the redactor, and no log event carries them."""
    submission = _response(bot)
    redaction.forget()
    with capture_logs() as events:
        bot.deliver(submission)
    personal = ["Alexandra", "Nofinding", "02/05/1991"]
    assert [] == [value for value in personal if value in repr(events)]
    assert ["[name]"] * 3 == [redaction.redact_text(value) for value in personal]
    redaction.forget()


def test_variant_layout_raises_selector_drift(bot: IsrResponder) -> None:
    """A changed page layout fails at once with SelectorDrift naming the locator, and sends nothing."""
    submission = _response(bot)
    admin(bot.base_url, "POST", "faults", {"layout": "variant"})
    with pytest.raises(SelectorDrift) as caught:
        bot.deliver(submission)
    assert ("isr_portal", "sign_in", "username") == (caught.value.system, caught.value.page, caught.value.locator)
    assert [] == _held(bot, submission.key)
