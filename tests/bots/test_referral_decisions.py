"""The referral bot reads each front door's decision from its own list of referrals sent, in a real Chromium against
the four simulated portals: nothing while the portal has decided nothing, then the outcome and time it recorded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser

from bots.referral_portal import bot_for
from bots.referral_portal.decisions import PortalDecision
from fixtures.referral_portals.decisions import Decision, decision_for
from fixtures.settings import SimulatorSettings
from tests.bots.conftest import admin, front_doors
from vhub.browser import BrowserSession
from vhub.settings import Settings
from vhub.simulated import simulated_system

AUTHORITIES = ("herefordshire", "worcestershire", "shropshire", "telford_wrekin")
PREFIXES = {"herefordshire": "HMASH", "worcestershire": "WCF", "shropshire": "SCOMP", "telford_wrekin": "TWFC"}
RECEIVED = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # a Monday morning, on the portals' stepped clock
SEED = SimulatorSettings.model_fields["fixtures_seed"].default


@pytest.fixture(scope="module")
def portals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with front_doors(tmp_path_factory.mktemp("decision-portals"), AUTHORITIES) as urls:
        yield urls


@pytest.fixture(scope="module")
def settings(portals: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    urls = {f"referral_{a}": simulated_system(f"referral_{a}", url) for a, url in portals.items()}
    return Settings(data_dir=tmp_path_factory.mktemp("decision-bot") / "var", portals=urls)


def plant_decided(url: str, authority: str) -> tuple[str, Decision]:
    """A referral received at RECEIVED on which the portal will record a decision: its reference and that decision."""
    admin(url, "POST", "clock", {"now": RECEIVED.isoformat()})
    for number in range(100):
        planted = admin(url, "POST", "referrals", {"your_reference": f"VHUB-{number}-test", "threshold_level": None})
        received = datetime.fromisoformat(planted["received_at"])
        decision = decision_for(SEED, PREFIXES[authority], planted["reference"], received, None)
        if decision is not None:
            return planted["reference"], decision
    raise AssertionError("no planted referral was ever decided")


@pytest.mark.browser
@pytest.mark.parametrize("authority", AUTHORITIES)
def test_the_decision_is_read_only_once_the_portal_shows_it(
    settings: Settings, browser: Browser, portals: dict[str, str], authority: str
) -> None:
    """Before the decision time the portal's own words for "undecided" read as no decision; after it, the outcome in
    vhub's words and the time the portal shows, to the minute; a reference it does not hold is "not listed"."""
    url = portals[authority]
    reference, decision = plant_decided(url, authority)
    session = BrowserSession(settings, f"referral_{authority}", browser=browser)
    bot = bot_for(settings, authority, session=session)
    try:
        admin(url, "POST", "clock", {"now": (decision.decided_at - timedelta(minutes=1)).isoformat()})
        before = bot.decision(reference)
        admin(url, "POST", "clock", {"now": (decision.decided_at + timedelta(minutes=1)).isoformat()})
        after = bot.decision(reference)
        missing = bot.decision(f"{PREFIXES[authority]}-999999")
    finally:
        session.close()
        admin(url, "POST", "clock", {"now": None})
    assert PortalDecision(reference, found=True) == before
    assert (True, decision.outcome, decision.decided_at) == (after.found, after.outcome, after.decided_at)
    assert after.wording
    assert PortalDecision(f"{PREFIXES[authority]}-999999", found=False) == missing
