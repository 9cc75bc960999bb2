"""A fifth authority onboarded as an administrator would, from configuration and a selectors file alone: Testshire,
a test-only simulated portal unlike the four (one child per referral, sign-in at /account/signin, yes/no questions as
checkboxes, ISO dates, published under a path), worked by the one referral bot in a real Chromium. Real triage, under
that configuration, refers an incident's two children in two referrals, and each is sent exactly once.

Testshire lives only in this module's copy of config/ (its [authorities.testshire] and [referral.testshire]) and in
selectors/referral_testshire.yaml (the bot loads selectors by portal name from that folder); config/portals.toml
keeps the real four.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser
from pydantic import SecretStr, ValidationError

from bots.check import check_system
from bots.locators import load
from bots.portal import join_url
from bots.referral_portal import ReferralPortalBot, bot_for, load_route
from bots.referral_portal.route import PortalRoute, check_route, route_problems
from bots.submission import DraftNotSendable, PartnerRejected, Submission
from fixtures.referral_portals.testshire import AREA
from tests.bots.conftest import (
    admin,
    as_the_portal_keeps_it,
    check_a_lost_confirmation_is_found_not_sent_again,
    check_a_second_delivery_finds_the_first,
    held,
    referral_submission,
    serving,
)
from tests.factories import raw_incident
from vhub.browser import BrowserSession
from vhub.drafting import DraftContent, load_drafting_config, render_draft
from vhub.drafting.referral_form import ReferralForm
from vhub.errors import ConfigurationError
from vhub.models import LONDON, validate_incident
from vhub.portals import load_routes
from vhub.settings import Settings
from vhub.simulated import simulated_system
from vhub.triage import History, Workflow, load_config, triage
from vhub.triage.config import CONFIG_DIR

AUTHORITY = "testshire"
PORTAL = "referral_testshire"
PREFIX = "/childrens-front-door"
"""The path the portal is published under: its address is http://HOST:PORT/childrens-front-door."""
ROUTE = """
[referral.testshire]
portal = "referral_testshire"
flow = ["wizard"]
wizard_steps = ["step_concern", "step_child", "step_household", "step_referrer", "step_confirm"]
date_entry = "text"
date_format = "%Y-%m-%d"
not_asked = ["consent.consent_to_confirm"]
children_per_referral = 1
"""
HOME = {"line1": "5 Example Lane", "town": "Testbury", "postcode": "ZZ1 4AB"}
NOW = datetime(2026, 3, 14, 10, 0, tzinfo=LONDON)
_draft_ids = itertools.count(900)
Drafted = tuple[dict[str, Any], dict[str, Any]]
"""A drafted referral: (recipient, payload), as the review app stores them."""

browser_test = pytest.mark.browser
slow = pytest.mark.slow


# -- the administrator's configuration -------------------------------------------------------------------------


def _authority_entry() -> str:
    """[authorities.testshire], copied from Herefordshire's entry as the runbook says, with its own names."""
    herefordshire = tomllib.loads((CONFIG_DIR / "authorities.toml").read_text(encoding="utf-8"))["authorities"][
        "herefordshire"
    ]
    entry = {
        **herefordshire,
        "name": AREA.name,
        "childrens_services": "Testshire Children's Front Door",
        "education_team": "Testshire Elective Home Education Team",
        "marac": "Testshire MARAC",
        "policing_area": AREA.name,
        "postcode_districts": list(AREA.postcode_districts),
    }
    lines = [f"{key} = {json.dumps(value, default=str)}" for key, value in entry.items()]
    return "\n[authorities.testshire]\n" + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of config/ with Testshire added (two entries); returns its portals.toml."""
    folder = tmp_path_factory.mktemp("config")
    for path in CONFIG_DIR.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    with (folder / "authorities.toml").open("a", encoding="utf-8") as handle:
        handle.write(_authority_entry())
    with (folder / "portals.toml").open("a", encoding="utf-8") as handle:
        handle.write(ROUTE)
    return folder / "portals.toml"


def _reviewed(content: DraftContent) -> Drafted:
    """A drafted referral once a reviewer answered every yes/no question the records left open (the portal's
    checkboxes cannot say "not known") and filled in what they did not hold."""
    payload = copy.deepcopy(content.payload)
    payload["consent"].update(parents_informed=True, consent_given=False, consent_to_confirm=False)
    payload["consent"]["consent_not_needed_reason"] = "Risk of significant harm: consent would place the child at risk."
    payload["parental_factors"] = {
        "mental_health": False,
        "domestic_abuse": True,
        "substance_misuse": True,
        "violence_to_professionals": False,
    }
    for member in payload["parents_carers_household"]:
        member.update(parental_responsibility=member["name"] == "Alexandra Testperson")
    payload["children"][0].update(ethnicity="White British", language_needs="Uses Makaton")
    payload["threshold_level"] = "level 3 targeted"
    payload["concern"]["child_whereabouts_and_condition"] = "At home with mother;\nsafe and well when seen."
    return content.recipient.model_dump(mode="json"), ReferralForm.model_validate(payload).model_dump(mode="json")


def _drafted(config: Path) -> list[Drafted]:
    """The referrals real triage and drafting make, under ``config``, for an incident with two children at a
    Testshire address: one per child, as its portal takes them; each reviewed."""
    raw = raw_incident(location=HOME)
    raw["people"][0]["address"] = HOME
    raw["people"][2].update(address=HOME, school=None)
    second = {**copy.deepcopy(raw["people"][2]), "nominal_ref": "N100004", "forename": "Zoë"}
    raw["people"].append({**second, "surname": "Ní Bhriain-O'Neill", "date_of_birth": "03/01/2020", "gender": "male"})
    incident = validate_incident(raw)
    result = triage(incident, History(), load_config(config.parent), now=NOW)
    actions = [action for action in result.actions if action.workflow is Workflow.referral]
    assert [AUTHORITY, AUTHORITY] == [action.recipient.authority for action in actions]
    return [_reviewed(render_draft(action, incident, result, load_drafting_config())) for action in actions]


def referral(drafted: list[Drafted], **changes: Any) -> Submission:
    """A submission of the drafted referral (top-level parts of its payload replaced by ``changes``) with a key
    never used before."""
    recipient, payload = drafted
    payload = {**copy.deepcopy(payload), **copy.deepcopy(changes)}
    return referral_submission(next(_draft_ids), AUTHORITY, recipient, payload)


# -- the portal and the bot ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portal_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Testshire's portal in its own process, published under PREFIX; its address (with the prefix)."""
    log = tmp_path_factory.mktemp("testshire") / "portal.log"
    with serving("fixtures.referral_portals", log, AUTHORITY, "--prefix", PREFIX) as root:
        yield root + PREFIX


@pytest.fixture(scope="module")
def settings(portal_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("testshire-bot") / "var"
    return Settings(data_dir=data, portals={PORTAL: simulated_system(PORTAL, portal_url)})


@pytest.fixture(scope="module")
def drafted(onboarded: Path) -> list[Drafted]:
    """The incident's referrals, one per child."""
    return _drafted(onboarded)


@pytest.fixture
def session(settings: Settings, browser: Browser, portal_url: str) -> Iterator[BrowserSession]:
    """A browser session on pytest-playwright's browser; the portal's faults and expiry cue off afterwards."""
    session = BrowserSession(settings, PORTAL, browser=browser)
    yield session
    session.close()
    admin(portal_url, "POST", "faults", {"confirmation_failure_rate": 0})
    admin(portal_url, "POST", "expire-sessions-at", {"checkpoint": None})


@pytest.fixture
def bot(settings: Settings, session: BrowserSession, onboarded: Path) -> ReferralPortalBot:
    return bot_for(settings, AUTHORITY, session=session, config=onboarded)


# -- configuration only ----------------------------------------------------------------------------------------


def test_the_new_authority_fits_its_selectors_file_from_its_two_entries(onboarded: Path) -> None:
    """The copied config routes a Testshire postcode to Testshire and its route fits its selectors file; the
    product's own config/portals.toml does not know Testshire."""
    route = load_route(AUTHORITY, onboarded)
    check_route(route, load(PORTAL))
    found = load_config(onboarded.parent).authority_for_postcode(HOME["postcode"])
    assert (AUTHORITY, PORTAL, True) == (found.key if found else None, route.portal, route.takes_one_child)
    assert AUTHORITY not in load_routes()["referral"]


def test_only_a_portal_taking_several_children_needs_an_add_child_button(onboarded: Path) -> None:
    """With children_per_referral = 1 the child page needs no add_child locator; without it, it does."""
    route = load_route(AUTHORITY, onboarded)
    several = route.model_copy(update={"children_per_referral": None})
    assert [] == route_problems(route, load(PORTAL))
    assert ["page 'step_child' has no locator 'add_child'"] == route_problems(several, load(PORTAL))


@pytest.mark.parametrize("answer", ["no", "N", "Yes"])
def test_not_known_may_not_be_mapped_to_an_answer(onboarded: Path, answer: str) -> None:
    """choices mapping "" (not known) to yes or no is refused: the bot never guesses an answer."""
    entry = load_routes(onboarded)["referral"][AUTHORITY]
    with pytest.raises(ValidationError) as caught:
        PortalRoute.model_validate({"authority": AUTHORITY, **entry, "choices": {"": answer}})
    assert 'a "not known" is never sent as yes or no' in str(caught.value)
    assert {"": "NK"} == PortalRoute.model_validate({"authority": AUTHORITY, **entry, "choices": {"": "NK"}}).choices


def test_a_path_is_joined_under_the_portals_address_keeping_its_own_path() -> None:
    """Paths of the selectors file go under the address, its path prefix kept, with one slash between."""
    assert [
        "https://host/front-door/referrals/?q=1",
        "https://host/front-door/account/signin",
        "https://host/referrals/",
        "https://host/front-door",
    ] == [
        join_url("https://host/front-door", "/referrals/?q=1"),
        join_url("https://host/front-door/", "account/signin"),
        join_url("https://host", "/referrals/"),
        join_url("https://host/front-door", ""),
    ]


# -- against the portal ------------------------------------------------------------------------------------------


@browser_test
@slow
def test_single_child_referrals_land_once_each_with_every_field_as_drafted(
    bot: ReferralPortalBot, drafted: list[Drafted]
) -> None:
    """Triage made one referral per child of the incident; each arrives with every field as drafted (ISO dates,
    checkboxes ticked or not), and a replay finds it by its key instead of sending it again."""
    for submission in map(referral, drafted):
        check_a_second_delivery_finds_the_first(bot, submission)
        [stored] = held(bot, submission.key)
        assert re.fullmatch(r"TSCFD-\d{6}", stored["reference"])
        assert as_the_portal_keeps_it(submission) == stored["fields"]


@browser_test
@slow
def test_a_lost_confirmation_is_found_by_its_key_not_sent_again(bot: ReferralPortalBot, drafted: list[Drafted]) -> None:
    """A 502 after the last post is SubmissionUnconfirmed; the next delivery returns the stored reference."""
    check_a_lost_confirmation_is_found_not_sent_again(bot, referral(drafted[1]))


@browser_test
@slow
def test_a_session_ended_mid_form_is_a_new_sign_in_not_a_changed_page(
    bot: ReferralPortalBot, drafted: list[Drafted]
) -> None:
    """Sessions ended as the child's page is posted send the bot to /account/signin: it signs in again and sends
    the referral once (no selector drift, so the portal is not paused)."""
    submission = referral(drafted[0])
    expiries = admin(bot.base_url, "GET", "stats")["session_expiries"]
    admin(bot.base_url, "POST", "expire-sessions-at", {"checkpoint": "step:child"})
    reference, submitted = bot.deliver(submission)
    assert ([reference], True) == ([item["reference"] for item in held(bot, submission.key)], submitted)
    assert admin(bot.base_url, "GET", "stats")["session_expiries"] > expiries


@browser_test
@slow
def test_a_wrong_password_names_the_settings_to_fix(
    settings: Settings, session: BrowserSession, onboarded: Path, drafted: list[Drafted]
) -> None:
    """The portal refusing the bot's password at /account/signin is a ConfigurationError naming the
    VHUB_PORTALS__ settings, not broken locators."""
    account = settings.portals[PORTAL].model_copy(update={"password": SecretStr("not-the-password")})
    wrong = settings.model_copy(update={"portals": {PORTAL: account}})
    with pytest.raises(ConfigurationError) as caught:
        bot_for(wrong, AUTHORITY, session=session, config=onboarded).deliver(referral(drafted[0]))
    assert (
        "Check VHUB_PORTALS__REFERRAL_TESTSHIRE__USERNAME and VHUB_PORTALS__REFERRAL_TESTSHIRE__PASSWORD."
        in caught.value.message
    )


@browser_test
@slow
def test_not_known_where_the_portal_has_a_checkbox_goes_back_to_review_unsent(
    bot: ReferralPortalBot, drafted: list[Drafted]
) -> None:
    """Consent and parents-informed not known cannot be ticked or left blank without a guess: the draft goes back
    to review (a PartnerRejected) naming both, and the portal holds nothing."""
    consent = {**drafted[0][1]["consent"], "parents_informed": None, "consent_given": None}
    submission = referral(drafted[0], consent=consent)
    with pytest.raises(DraftNotSendable) as caught:
        bot.deliver(submission)
    assert isinstance(caught.value, PartnerRejected)
    assert caught.value.partner_message.startswith("the draft says not known for parents informed, consent given,")
    assert [] == held(bot, submission.key)


@browser_test
@slow
def test_a_referral_of_two_children_goes_back_to_review_unsent(bot: ReferralPortalBot, drafted: list[Drafted]) -> None:
    """A portal taking one child per referral is never sent a two-child referral (one drafted before the portal's
    entry said so): back to review, nothing held."""
    submission = referral(drafted[0], children=[draft[1]["children"][0] for draft in drafted])
    with pytest.raises(DraftNotSendable) as caught:
        bot.deliver(submission)
    assert "its form takes 1 child per referral and the draft lists 2" in caught.value.partner_message
    assert [] == held(bot, submission.key)


@browser_test
@slow
def test_a_date_format_the_portal_cannot_take_stops_before_anything_is_sent(
    settings: Settings, session: BrowserSession, onboarded: Path, drafted: list[Drafted]
) -> None:
    """Dates typed as DD/MM/YYYY into the portal's ISO date fields are emptied by them: a ConfigurationError
    naming date_format, and nothing sent."""
    route = load_route(AUTHORITY, onboarded).model_copy(update={"date_format": "%d/%m/%Y"})
    bot = ReferralPortalBot(settings, route, session, config_dir=onboarded.parent)
    submission = referral(drafted[0])
    with pytest.raises(ConfigurationError) as caught:
        bot.deliver(submission)
    assert "emptied the date typed in 'concern_date'" in caught.value.message
    assert "date_format '%d/%m/%Y' of [referral.testshire]" in caught.value.message
    assert [] == held(bot, submission.key)


@browser_test
@slow
def test_selectors_check_opens_every_page_under_the_portals_own_path(
    settings: Settings, session: BrowserSession
) -> None:
    """`vhub selectors check` signs in at /account/signin and opens each page under the address's path: every
    page it can reach is ok."""
    results = check_system(settings, PORTAL, session)
    checked = {result.page: (result.ok, result.broken, result.error) for result in results if not result.skipped}
    assert {
        "sign_in": (True, [], None),
        "referral_search": (True, [], None),
        "step_concern": (True, [], None),
    } == checked
