"""The MARAC portal bot against the real simulated portal, in a real Chromium: a MARAC referral drafted from
real triage lands exactly once with every field right, whatever the portal does."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser

from bots.marac_portal import MaracPortalBot
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
from vhub.browser import BrowserSession
from vhub.drafting import load_drafting_config, render_draft
from vhub.errors import SelectorDrift
from vhub.models import DASH_KEYS, validate_incident
from vhub.settings import Settings
from vhub.simulated import simulated_system
from vhub.triage import History, Workflow, load_config, triage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
YES = (
    "injury",
    "very_frightened",
    "afraid_of_further_violence",
    "isolated",
    "separated_past_year",
    "child_contact_conflict",
    "stalking_harassment",
    "abuse_more_often",
    "abuse_getting_worse",
    "controlling_or_jealous",
    "threats_to_kill",
    "strangulation_choking",
    "financial_issues",
    "criminal_history",
)
_draft_ids = itertools.count(7001)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The MARAC portal as its own process."""
    with serving("fixtures.marac_portal", tmp_path_factory.mktemp("marac-portal") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def settings(portal: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("marac-bot") / "var"
    return Settings(data_dir=data_dir, portals={"marac_portal": simulated_system("marac_portal", portal)})


@pytest.fixture
def bot(settings: Settings, browser: Browser) -> Iterator[MaracPortalBot]:
    """A bot over its own session on pytest-playwright's browser; faults are back to none afterwards."""
    session = BrowserSession(settings, "marac_portal", browser=browser)
    yield MaracPortalBot(settings, session)
    session.close()
    url = settings.external("marac_portal").url
    admin(url, "POST", "faults", {"confirmation_failure_rate": 0, "layout": "standard"})


def _referral(**victim: Any) -> Submission:
    """The MARAC referral triage and drafting make for the factory incident with 14 DASH "yes" answers."""
    raw = raw_incident(dash={"answers": {key: key in YES for key in DASH_KEYS}, "officer_grading": "medium"})
    raw["people"][0].update(victim)
    record = validate_incident(raw)
    result = triage(record, History(), load_config(), now=NOW)
    action = next(action for action in result.actions if action.workflow is Workflow.marac)
    draft = render_draft(action, record, result, load_drafting_config())
    draft_id = next(_draft_ids)
    return Submission(
        draft_id=draft_id,
        key=submission_key(draft_id, f"marac:{draft.subject}"),
        workflow=draft.workflow.value,
        recipient=draft.recipient.model_dump(mode="json"),
        payload=draft.payload,
        text=draft.text,
        source_ref=record.reference,
        extra={"policy": draft.policy},
    )


def test_referral_lands_with_every_field(bot: MaracPortalBot) -> None:
    """A referral reaches the victim's area's MARAC once, every field as drafted, with its MARAC reference."""
    shrewsbury = {"line1": "7 Abbey Foregate", "town": "Shrewsbury", "postcode": "SY2 6AE"}
    submission = _referral(address=shrewsbury)
    reference, submitted = bot.deliver(submission)
    [stored] = held(bot, submission.key)
    expected = {
        "marac": "shropshire",
        "police_reference": "OCC/26/000101",
        "incident_date": "13/03/2026",
        "incident_time": "22:40",
        "incident_summary": "Domestic abuse (Common assault)",
        "victim_name": "Alexandra Testperson",
        "victim_dob": "02/05/1991",
        "victim_age": "",
        "victim_address": "7 Abbey Foregate, Shrewsbury, SY2 6AE",
        "dash_grading": "medium",
        "dash_yes_count": "14",
        "risk_factors": [
            "injury",
            "separated_past_year",
            "stalking_harassment",
            "abuse_getting_worse",
            "controlling_or_jealous",
            "threats_to_kill",
            "strangulation_choking",
        ],
        "referral_reasons": "\n".join(submission.payload["reasons"]),
        "perpetrator_name": "Brandon Examplename",
        "perpetrator_dob": "",
        "perpetrator_age": "38",
        "perpetrator_relationship": "ex-partner of victim",
        "perpetrator_address": "",
        "children": "Casey Testperson, born 20/09/2016, daughter of victim",
        "additional_information": "",
        "referrer_reference": submission.key,
    }
    assert (stored["reference"], True) == (reference, submitted)
    assert "Shropshire MARAC" == submission.recipient["name"]
    assert expected == stored["fields"]
    assert any("14 yes answers" in reason for reason in submission.payload["reasons"])


def test_delivering_twice_submits_once(bot: MaracPortalBot) -> None:
    """A second delivery finds the first referral by its key: one referral, the same reference."""
    check_a_second_delivery_finds_the_first(bot, _referral())


def test_lost_confirmation_is_unconfirmed_then_found(bot: MaracPortalBot) -> None:
    """When the portal keeps the referral but its confirmation fails, the next delivery finds it, sending nothing."""
    check_a_lost_confirmation_is_found_not_sent_again(bot, _referral())


def test_victim_under_16_is_rejected_in_the_portals_words(bot: MaracPortalBot) -> None:
    """A victim the portal finds under 16 is refused with its own message, and nothing is held."""
    submission = _referral()
    today = date.today()
    victim = {**submission.payload["victim"], "date_of_birth": date(today.year - 15, 1, 1).isoformat()}
    refused = Submission(**{**submission.__dict__, "payload": {**submission.payload, "victim": victim}})
    with pytest.raises(PartnerRejected) as caught:
        bot.deliver(refused)
    assert "MARAC takes victims aged 16 or over." == caught.value.partner_message
    assert [] == held(bot, submission.key)


def test_session_expired_mid_form_still_sends_once(bot: MaracPortalBot) -> None:
    """Sessions ended just before the referral is posted: the bot signs in, searches, sends a fresh form once."""
    check_a_session_ended_before_the_post_still_sends_once(bot, _referral(), "**/referrals/new")


def test_variant_layout_raises_selector_drift(bot: MaracPortalBot) -> None:
    """A changed page layout fails at once with SelectorDrift naming the locator, and sends nothing."""
    submission = _referral()
    admin(bot.base_url, "POST", "faults", {"layout": "variant"})
    with pytest.raises(SelectorDrift) as caught:
        bot.deliver(submission)
    assert ("marac_portal", "sign_in", "username") == (caught.value.system, caught.value.page, caught.value.locator)
    assert [] == held(bot, submission.key)
