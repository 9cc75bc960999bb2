"""The referral bot against the four real simulated front doors, in a real Chromium: every field lands, exactly
once through lost confirmations and expired sessions, the portal's refusals and drift; and its configuration."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route
from structlog.testing import capture_logs

from bots.locators import PageLocators, load
from bots.referral_portal import ReferralPortalBot, bot_for, load_route
from bots.referral_portal.decisions import PortalDecision
from bots.referral_portal.route import check_route
from bots.submission import PartnerRejected, Submission
from fixtures.referral_portals.decisions import Decision, decision_for
from fixtures.settings import SimulatorSettings
from tests.bots.conftest import (
    admin,
    as_the_portal_keeps_it,
    check_a_lost_confirmation_is_found_not_sent_again,
    front_doors,
    held,
    referral_submission,
)
from tests.factories import raw_incident
from vhub import redaction
from vhub.browser import BrowserSession
from vhub.drafting import load_drafting_config, render_draft
from vhub.drafting.referral_form import ReferralForm
from vhub.errors import ConfigurationError, SelectorDrift
from vhub.models import LONDON, validate_incident
from vhub.portals import PORTALS_FILE, load_routes
from vhub.settings import PROJECT_ROOT, Settings
from vhub.simulated import simulated_system
from vhub.triage import History, Workflow, load_config, triage

AUTHORITIES = ("herefordshire", "worcestershire", "shropshire", "telford_wrekin")
PREFIXES = {"herefordshire": "HMASH", "worcestershire": "WCF", "shropshire": "SCOMP", "telford_wrekin": "TWFC"}
HOMES = {
    "herefordshire": {"line1": "4 Castle Street", "town": "Hereford", "postcode": "HR1 2NN"},
    "worcestershire": {"line1": "12 Orchard Way", "town": "Worcester", "postcode": "WR1 2AB"},
    "shropshire": {"line1": "7 Abbey Foregate", "town": "Shrewsbury", "postcode": "SY2 6AE"},
    "telford_wrekin": {"line1": "3 Dawley Road", "town": "Telford", "postcode": "TF3 4AB"},
}
NOW = datetime(2026, 3, 14, 10, 0, tzinfo=LONDON)
_draft_ids = itertools.count(1)

browser_test = pytest.mark.browser
slow = pytest.mark.slow


# -- a referral as vhub drafts it, for a child living in the authority -----------------------------------------


@cache
def _drafted(authority: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(recipient, payload) of the referral drafted for the test incident with the family living in ``authority``;
    a reviewer then filled in what the records did not hold, so every field of the form has a value somewhere."""
    home = HOMES[authority]
    raw = raw_incident(location=home)
    for person in raw["people"]:
        if "address" in person:
            person["address"] = home
    raw["people"].append(
        {
            **copy.deepcopy(raw["people"][2]),
            "nominal_ref": "N100004",
            "forename": "Zoë",
            "surname": "Ní Bhriain-O'Neill",
            "date_of_birth": "03/01/2020",
            "gender": "male",
            "school": None,
        }
    )
    incident = validate_incident(raw)
    result = triage(incident, History(), load_config(), now=NOW)
    action = next(action for action in result.actions if action.workflow is Workflow.referral)
    content = render_draft(action, incident, result, load_drafting_config())
    payload = copy.deepcopy(content.payload)
    reason = "Risk of significant harm: consent would place the child at risk."
    payload["consent"].update(parents_informed=True, consent_given=False, consent_not_needed_reason=reason)
    payload["consent"]["consent_to_confirm"] = False
    payload["children"][0].update(other_names="Casey T", ethnicity="White British", religion="None stated")
    payload["children"][0].update(age_years=9, language_needs="Uses Makaton", disability="Hearing impairment")
    payload["children"][0]["gender"] = "unknown"
    payload["children"][1].update(expected_date_of_birth=None, ethnicity="Mixed: White and Black Caribbean")
    payload["parents_carers_household"][0].update(relationship="Mother", parental_responsibility=True)
    payload["parents_carers_household"][1].update(parental_responsibility=False)
    payload["concern"].update(child_whereabouts_and_condition="At home with mother;\nsafe and well when seen.")
    payload["parental_factors"].update(mental_health=False, substance_misuse=True)
    payload["other_agencies"] = "School nurse\nHealth visitor"
    payload["threshold_level"] = "level 4 child protection"
    payload = ReferralForm.model_validate(payload).model_dump(mode="json")
    return content.recipient.model_dump(mode="json"), payload


def referral(authority: str, **children: dict[str, Any]) -> Submission:
    """A submission of the drafted referral with a key never used before; ``children`` changes child N's fields
    (``child_1={"address": ...}``)."""
    recipient, payload = _drafted(authority)
    payload = copy.deepcopy(payload)
    for name, changes in children.items():
        payload["children"][int(name.removeprefix("child_")) - 1].update(changes)
    return referral_submission(next(_draft_ids), authority, recipient, payload)


# -- the portals and the bot -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The four front doors, each as its own process, started together: authority -> URL."""
    with front_doors(tmp_path_factory.mktemp("referral-portals"), AUTHORITIES) as urls:
        yield urls


@pytest.fixture(scope="module")
def settings(portals: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    urls = {f"referral_{a}": simulated_system(f"referral_{a}", url) for a, url in portals.items()}
    return Settings(data_dir=tmp_path_factory.mktemp("referral-bot") / "var", portals=urls)


@pytest.fixture(params=AUTHORITIES)
def authority(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bot(settings: Settings, browser: Browser, authority: str, portals: dict[str, str]) -> Iterator[ReferralPortalBot]:
    """The bot for ``authority`` over its own session on pytest-playwright's browser; faults off afterwards."""
    session = BrowserSession(settings, f"referral_{authority}", browser=browser)
    yield bot_for(settings, authority, session=session)
    session.close()
    admin(portals[authority], "POST", "faults", {"confirmation_failure_rate": 0, "layout": "standard"})
    admin(portals[authority], "POST", "expire-sessions-at", {"checkpoint": None})


# -- tests ---------------------------------------------------------------------------------------------------------


@browser_test
@slow
def test_a_referral_lands_once_with_every_field_as_drafted(bot: ReferralPortalBot, authority: str) -> None:
    """Every field arrives as drafted, with the portal's reference; delivering again finds it and sends nothing."""
    submission = referral(authority)
    reference, submitted = bot.deliver(submission)
    again = bot.deliver(submission)
    found = held(bot, submission.key)
    assert (True, (reference, False)) == (submitted, again)
    assert [reference] == [item["reference"] for item in found]
    assert re.fullmatch(rf"{PREFIXES[authority]}-\d{{6}}", reference)
    assert as_the_portal_keeps_it(submission) == found[0]["fields"]


@browser_test
@slow
@pytest.mark.parametrize("authority", ["shropshire"])
def test_a_frame_still_loading_is_opened_from_its_address(bot: ReferralPortalBot, authority: str) -> None:
    """A slow portal: the iframe's own page has not arrived when the bot reaches the frame page (here its first
    request is held back for good). The bot opens the frame from the iframe's src and sends once."""
    held_back: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if not held_back:
            held_back.append(route)  # never answered: the frame stays as it is before its page arrives
        else:
            route.continue_()

    context = bot.session.page.context
    context.route("**/compass/referral*", hold_the_first)
    try:
        submission = referral(authority)
        reference, submitted = bot.deliver(submission)
    finally:
        context.unroute("**/compass/referral*")
    assert 1 == len(held_back)
    assert (True, [reference]) == (submitted, [item["reference"] for item in held(bot, submission.key)])


@browser_test
@slow
def test_a_lost_confirmation_is_found_by_its_key_not_sent_again(bot: ReferralPortalBot, authority: str) -> None:
    """A 502 after the final submit is SubmissionUnconfirmed; the next delivery returns the stored reference."""
    check_a_lost_confirmation_is_found_not_sent_again(bot, referral(authority))


@browser_test
@slow
def test_a_child_living_elsewhere_is_refused_in_the_portals_words(bot: ReferralPortalBot, authority: str) -> None:
    """A child's postcode outside the authority is PartnerRejected carrying the portal's own message."""
    elsewhere = HOMES["worcestershire" if authority == "herefordshire" else "herefordshire"]
    submission = referral(authority, child_2={"address": elsewhere})
    with pytest.raises(PartnerRejected) as caught:
        bot.deliver(submission)
    name = load_config().authorities[authority].name
    assert f"The child's postcode is not in {name}: refer to the right authority" == caught.value.partner_message
    assert [] == held(bot, submission.key)


def _expiring_at(bot: ReferralPortalBot, authority: str, checkpoint: str) -> None:
    submission = referral(authority)
    expiries = admin(bot.base_url, "GET", "stats")["session_expiries"]
    admin(bot.base_url, "POST", "expire-sessions-at", {"checkpoint": checkpoint})
    reference, submitted = bot.deliver(submission)
    assert ([reference], True) == ([item["reference"] for item in held(bot, submission.key)], submitted)
    assert admin(bot.base_url, "GET", "stats")["session_expiries"] > expiries


@browser_test
@slow
def test_a_session_expiring_mid_form_still_sends_once(bot: ReferralPortalBot, authority: str) -> None:
    """Sessions ended while a household member is added: the form is started again and sent once."""
    _expiring_at(bot, authority, "add_member")


@browser_test
@slow
@pytest.mark.parametrize("authority", ["shropshire", "telford_wrekin"])
def test_a_final_post_refused_for_an_ended_session_is_checked_then_sent_once(
    bot: ReferralPortalBot, authority: str
) -> None:
    """Sessions ended at the final post: the key is searched for, not found, and the form sent once."""
    _expiring_at(bot, authority, "submit")


@browser_test
@slow
def test_variant_layout_raises_selector_drift(bot: ReferralPortalBot, authority: str) -> None:
    """A changed layout fails at once with SelectorDrift naming the portal and the locator; nothing is sent."""
    admin(bot.base_url, "POST", "faults", {"layout": "variant"})
    submission = referral(authority)
    with pytest.raises(SelectorDrift) as caught:
        bot.deliver(submission)
    assert (f"referral_{authority}", "sign_in", "username") == (
        caught.value.system,
        caught.value.page,
        caught.value.locator,
    )
    assert [] == held(bot, submission.key)


@browser_test
@slow
@pytest.mark.parametrize("authority", ["herefordshire"])
def test_personal_values_are_remembered_and_never_logged(bot: ReferralPortalBot, authority: str) -> None:
    """Children's names, dates of birth and addresses are masked by the redactor; no log event carries them."""
    submission = referral(authority)
    child = submission.payload["children"][1]
    personal = [child["forename"], child["surname"], child["date_of_birth"], child["address"]["line1"]]
    redaction.forget()
    with capture_logs() as events:
        bot.deliver(submission)
    assert [] == [value for value in personal if value in repr(events)]
    assert ["[name]"] * 4 == [redaction.redact_text(value) for value in personal]
    redaction.forget()


def test_every_configured_authority_fits_its_selectors_file() -> None:
    """Each [referral.*] entry of config/portals.toml is valid and its selectors file has every field it needs."""
    configured = sorted(load_routes()["referral"])
    for authority in configured:
        route = load_route(authority)
        check_route(route, load(route.portal))
        assert f"referral_{authority}" == route.portal
    assert set(AUTHORITIES) <= set(configured)


def test_the_bot_holds_nothing_specific_to_an_authority() -> None:
    """No module of bots/referral_portal names an authority, its portal or its front door: they are data."""
    names = [*AUTHORITIES, "hereford", "worcester", "shrewsbury", "telford", "wrekin", "mash", "compass", "connect"]
    names += ["front door", "hmash", "wcf", "scomp", "twfc"]
    modules = sorted((PROJECT_ROOT / "bots" / "referral_portal").glob("*.py"))
    found = {
        path.name: [word for word in names if word in path.read_text(encoding="utf-8").casefold()] for path in modules
    }
    assert 6 <= len(modules)
    assert {} == {name: words for name, words in found.items() if words}


def test_an_authority_missing_from_the_config_is_refused(tmp_path: Path) -> None:
    """Without its [referral.telford_wrekin] entry the bot refuses the authority, naming the file and the fix."""
    text = PORTALS_FILE.read_text(encoding="utf-8")
    trimmed = re.sub(r"\[referral\.telford_wrekin\].*?(?=^\[|\Z)", "", text, flags=re.DOTALL | re.MULTILINE)
    config = tmp_path / "portals.toml"
    config.write_text(trimmed, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "var",
        portals={"referral_telford_wrekin": simulated_system("referral_telford_wrekin", "http://x")},
    )
    assert "telford_wrekin" == load_route("telford_wrekin").authority
    with pytest.raises(ConfigurationError) as caught:
        bot_for(settings, "telford_wrekin", config=config)
    assert f"{config} has no [referral.telford_wrekin] entry" in caught.value.message
    assert "runbooks/adding-an-authority.md" in caught.value.message


def test_a_selectors_file_without_a_field_is_refused_before_the_portal_is_touched() -> None:
    """A field the route does not list in not_asked but the selectors file lacks is a ConfigurationError."""
    route = load_route("worcestershire")
    pages = dict(load(route.portal))
    form = pages["form"]
    kept = {name: locator for name, locator in form.locators.items() if name != "concern_postcode"}
    pages["form"] = PageLocators(form.system, form.name, form.path, kept, form.groups)
    with pytest.raises(ConfigurationError) as caught:
        check_route(route, pages)
    assert "field concern.location.postcode (locator 'concern_postcode') is on no form page" in caught.value.message
    assert "not_asked" in caught.value.message


# -- the front door's decision ---------------------------------------------------------------------------------------

DECISIONS_RECEIVED = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # a Monday morning, on the portal's stepped clock
SEED = SimulatorSettings.model_fields["fixtures_seed"].default


def plant_decided(url: str, authority: str) -> tuple[str, Decision]:
    """A referral the portal receives at DECISIONS_RECEIVED and will decide: its reference and that decision."""
    admin(url, "POST", "clock", {"now": DECISIONS_RECEIVED.isoformat()})
    for number in range(100):
        planted = admin(url, "POST", "referrals", {"your_reference": f"VHUB-{number}-test", "threshold_level": None})
        received = datetime.fromisoformat(planted["received_at"])
        decision = decision_for(SEED, PREFIXES[authority], planted["reference"], received, None)
        if decision is not None:
            return planted["reference"], decision
    raise AssertionError("no planted referral was ever decided")


@browser_test
def test_the_decision_is_read_only_once_the_portal_shows_it(
    bot: ReferralPortalBot, portals: dict[str, str], authority: str
) -> None:
    """Before the decision time the portal's own words for "undecided" read as no decision; after it, the outcome in
    vhub's words and the time the portal shows, to the minute; a reference it does not hold is "not listed"."""
    url = portals[authority]
    reference, decision = plant_decided(url, authority)
    try:
        admin(url, "POST", "clock", {"now": (decision.decided_at - timedelta(minutes=1)).isoformat()})
        before = bot.decision(reference)
        admin(url, "POST", "clock", {"now": (decision.decided_at + timedelta(minutes=1)).isoformat()})
        after = bot.decision(reference)
        missing = bot.decision(f"{PREFIXES[authority]}-999999")
    finally:
        admin(url, "POST", "clock", {"now": None})
    assert PortalDecision(reference, found=True) == before
    assert (True, decision.outcome, decision.decided_at) == (after.found, after.outcome, after.decided_at)
    assert after.wording
    assert PortalDecision(f"{PREFIXES[authority]}-999999", found=False) == missing
