"""The school portal bot against the real simulated portal, in a real Chromium: Operation Encompass notices
drafted from real triage, each landing exactly once with every field right, whatever the portal does."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser
from structlog.testing import capture_logs

from bots.school_portal import SchoolPortalBot
from bots.submission import PartnerRejected, Submission, submission_key
from tests.bots.conftest import (
    admin,
    check_a_lost_confirmation_is_found_not_sent_again,
    check_a_second_delivery_finds_the_first,
    check_a_session_ended_before_the_post_still_sends_once,
    held,
    serving,
)
from tests.factories import raw_incident
from vhub import redaction
from vhub.browser import BrowserSession
from vhub.drafting import DraftContent, load_drafting_config, render_draft
from vhub.errors import SelectorDrift
from vhub.models import validate_incident
from vhub.settings import Settings
from vhub.simulated import simulated_system
from vhub.triage import History, Workflow, load_config, triage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
_draft_ids = itertools.count(9001)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The school notification portal as its own process."""
    with serving("fixtures.school_portal", tmp_path_factory.mktemp("school-portal") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def settings(portal: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("school-bot") / "var"
    return Settings(data_dir=data_dir, portals={"school_portal": simulated_system("school_portal", portal)})


@pytest.fixture
def bot(settings: Settings, browser: Browser) -> Iterator[SchoolPortalBot]:
    """A bot over its own session on pytest-playwright's browser; faults are back to none afterwards."""
    session = BrowserSession(settings, "school_portal", browser=browser)
    yield SchoolPortalBot(settings, session)
    session.close()
    admin(
        settings.external("school_portal").url, "POST", "faults", {"confirmation_failure_rate": 0, "layout": "standard"}
    )


def _encompass_draft(child: dict[str, Any], **incident: Any) -> DraftContent:
    """The Operation Encompass draft triage and drafting make for the factory incident, its child changed."""
    raw = raw_incident(**incident)
    raw["people"][2].update(child)
    record = validate_incident(raw)
    result = triage(record, History(), load_config(), now=NOW)
    action = next(action for action in result.actions if action.workflow is Workflow.encompass)
    return render_draft(action, record, result, load_drafting_config())


def _submission(draft: DraftContent) -> Submission:
    draft_id = next(_draft_ids)
    return Submission(
        draft_id=draft_id,
        key=submission_key(draft_id, f"encompass:{draft.subject}"),
        workflow=draft.workflow.value,
        recipient=draft.recipient.model_dump(mode="json"),
        payload=draft.payload,
        text=draft.text,
        source_ref="OCC/26/000101",
        extra={"policy": draft.policy},
    )


def _full_notice() -> Submission:
    """A full notice to a Herefordshire primary school: the child was present and spoke to officers."""
    child = {"present": True, "voice_of_child": "I hid upstairs with Teddy. Mum said “stay there”."}
    return _submission(_encompass_draft(child))


def _minimised_notice() -> Submission:
    """A minimised notice to a Telford & Wrekin secondary school."""
    return _submission(_encompass_draft({"school": "Ercall Wood Academy", "date_of_birth": "04/11/2011"}))


def test_full_notice_lands_with_every_field(bot: SchoolPortalBot) -> None:
    """A full notice reaches the school's DSL once, every field as drafted, and its ENC reference is returned."""
    submission = _full_notice()
    reference, submitted = bot.deliver(submission)
    [stored] = held(bot, submission.key)
    expected = {
        "recipient_id": "914201",
        "recipient": "Brookfield Primary School",
        "urn": "914201",
        "authority": "herefordshire",
        "form": "full",
        "child_name": "Casey Testperson",
        "child_dob": "20/09/2016",
        "incident_date": "13/03/2026",
        "incident_time": "22:40",
        "present": "yes",
        "welfare_check": "not_known",
        "police_reference": "OCC/26/000101",
        "location": "12 Orchard Way, Worcester, WR1 2AB",
        "spoken_to": "yes",
        "voice_of_child": "I hid upstairs with Teddy. Mum said “stay there”.",
        "circumstances": submission.payload["circumstances"],
        "sender_reference": submission.key,
    }
    assert (stored["reference"], True) == (reference, submitted)
    assert expected == stored["fields"]
    assert reference.startswith("ENC-")


def test_minimised_notice_lands_with_only_the_minimised_fields(bot: SchoolPortalBot) -> None:
    """A minimised notice carries the child, the date and time, presence and the welfare check, nothing more."""
    submission = _minimised_notice()
    reference, _ = bot.deliver(submission)
    [stored] = held(bot, submission.key)
    expected = {
        "recipient_id": "927505",
        "recipient": "Ercall Wood Academy",
        "urn": "927505",
        "authority": "telford_wrekin",
        "form": "minimised",
        "child_name": "Casey Testperson",
        "child_dob": "04/11/2011",
        "incident_date": "13/03/2026",
        "incident_time": "22:40",
        "present": "no",
        "welfare_check": "made",
        "sender_reference": submission.key,
    }
    assert stored["reference"] == reference
    assert expected == stored["fields"]


def test_home_educated_child_notice_goes_to_the_authority_team(bot: SchoolPortalBot) -> None:
    """A home-educated child's notice goes to the authority's elective home education team, found by name."""
    telford = {"line1": "3 Ercall Close", "town": "Telford", "postcode": "TF1 3AA"}
    child = {"school": None, "home_educated": True, "address": telford, "present": None}
    submission = _submission(_encompass_draft(child, location=telford))
    assert "local_authority_education" == submission.recipient["kind"]
    reference, _ = bot.deliver(submission)
    [stored] = held(bot, submission.key)
    expected = {
        "recipient_id": "EHE-telford_wrekin",
        "recipient": "Telford & Wrekin Elective Home Education Team",
        "urn": None,
        "authority": "telford_wrekin",
        "form": "minimised",
        "child_name": "Casey Testperson",
        "child_dob": "20/09/2016",
        "incident_date": "13/03/2026",
        "incident_time": "22:40",
        "present": "not_known",
        "welfare_check": "made",
        "sender_reference": submission.key,
    }
    assert stored["reference"] == reference
    assert expected == stored["fields"]


def test_delivering_twice_submits_once(bot: SchoolPortalBot) -> None:
    """A second delivery finds the first notice by its key: one notice, the same reference."""
    check_a_second_delivery_finds_the_first(bot, _minimised_notice())


def test_lost_confirmation_is_unconfirmed_then_found(bot: SchoolPortalBot) -> None:
    """When the portal keeps the notice but its confirmation fails, the next delivery finds it, sending nothing."""
    check_a_lost_confirmation_is_found_not_sent_again(bot, _full_notice())


def test_full_notice_to_a_minimised_area_is_rejected_in_the_portals_words(bot: SchoolPortalBot) -> None:
    """A full notice for a school whose area takes minimised notices only is refused, and nothing is sent."""
    submission = _full_notice()
    recipient = {**submission.recipient, "name": "Kingfisher Meadow Primary School", "urn": "918301"}
    refused = Submission(**{**submission.__dict__, "recipient": recipient})
    with pytest.raises(PartnerRejected) as caught:
        bot.deliver(refused)
    assert "This school's area only accepts minimised notices." == caught.value.partner_message
    assert [] == held(bot, submission.key)


def test_a_value_the_portal_refuses_is_rejected_with_its_message(bot: SchoolPortalBot) -> None:
    """A date of birth in the future is refused by the portal's own validation; the bot passes its words on."""
    submission = _minimised_notice()
    payload = {**submission.payload, "date_of_birth": "2030-01-01"}
    with pytest.raises(PartnerRejected) as caught:
        bot.deliver(Submission(**{**submission.__dict__, "payload": payload}))
    assert "The child's date of birth cannot be in the future." == caught.value.partner_message
    assert [] == held(bot, submission.key)


def test_session_expired_mid_form_still_sends_once(bot: SchoolPortalBot) -> None:
    """Sessions ended just before the notice is posted: the bot signs in, searches, sends a fresh form once."""
    check_a_session_ended_before_the_post_still_sends_once(bot, _minimised_notice(), "**/recipients/*/notice")


def test_read_receipt_is_read_from_sent_notices(bot: SchoolPortalBot) -> None:
    """A notice is unread until the school reads it; then the bot reads the portal's receipt."""
    reference, _ = bot.deliver(_minimised_notice())
    assert bot.read_receipt(reference) is None
    read_at = datetime.fromisoformat(admin(bot.base_url, "POST", f"notices/{reference}/read")["read_at"])
    assert f"Read by the DSL on {read_at:%d/%m/%Y at %H:%M}" == bot.read_receipt(reference)


def test_child_is_remembered_and_never_logged(bot: SchoolPortalBot) -> None:
    """The child's name and date of birth are masked by the redactor, and no log event carries them."""
    redaction.forget()
    with capture_logs() as events:
        bot.deliver(_full_notice())
    personal = ["Casey", "Testperson", "20/09/2016", "12 Orchard Way"]
    assert [] == [value for value in personal if value in repr(events)]
    assert ["[name]"] * 4 == [redaction.redact_text(value) for value in personal]
    redaction.forget()


def test_variant_layout_raises_selector_drift(bot: SchoolPortalBot) -> None:
    """A changed page layout fails at once with SelectorDrift naming the locator, and sends nothing."""
    submission = _minimised_notice()
    admin(bot.base_url, "POST", "faults", {"layout": "variant"})
    with pytest.raises(SelectorDrift) as caught:
        bot.deliver(submission)
    assert ("school_portal", "sign_in", "username") == (caught.value.system, caught.value.page, caught.value.locator)
    assert [] == held(bot, submission.key)
