"""Reading children's services' decision on a referral the force sent: the portal's list of referrals sent, searched
by its own reference (page ``referral_decisions`` of selectors/<portal>.yaml), the decision's words mapped to vhub's
outcomes by the ``decisions`` of the authority's config/portals.toml entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bots.referral_portal.fields import Entry
from bots.referral_portal.pages import FormPage
from vhub.errors import ConfigurationError, SystemUnavailable
from vhub.logs import get_logger
from vhub.models import LONDON
from vhub.portals import PORTALS_FILE

if TYPE_CHECKING:
    from bots.referral_portal.bot import ReferralPortalBot

log = get_logger(__name__)


@dataclass(frozen=True)
class PortalDecision:
    """What the portal shows for one referral: found or not, and its decision (None while it has made none)."""

    reference: str
    found: bool
    outcome: str | None = None  # a key of vhub.mou.OUTCOMES
    wording: str = ""
    decided_at: datetime | None = None  # aware, UTC


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def read_decision(bot: ReferralPortalBot, reference: str) -> PortalDecision:
    """The decision the portal shows for its referral ``reference``."""
    route = bot.route
    if not route.decisions:
        raise ConfigurationError(
            f"{PORTALS_FILE} [referral.{route.authority}] has no decisions: list the portal's words for each "
            "decision (and undecided) before its decisions can be read."
        )

    def look() -> list[dict[str, Any]]:
        page = FormPage(
            bot.session.page, bot.base_url, bot.locators["referral_decisions"], bot.system_name, route=route
        )
        page.open()
        page.fill_in([page.planned(Entry("search_text", "text", reference), "search_text")])
        page.click("search")
        rows: list[dict[str, Any]] = page.read()["groups"]["results"]
        return rows

    with bot.session.item(f"decision-{reference}"):
        rows = [row for row in bot.step(look) if str(row.get("reference") or "").strip() == reference]
    if not rows:
        log.warning("referral not in the portal's list", system=bot.system, reference=reference)
        return PortalDecision(reference, found=False)
    if len(rows) > 1:
        raise SystemUnavailable(f"The {bot.system_name} listed referral {reference} more than once; trying again.")
    return _decision(bot, reference, str(rows[0].get("decision") or ""), str(rows[0].get("decided_at") or ""))


def _decision(bot: ReferralPortalBot, reference: str, words: str, when: str) -> PortalDecision:
    route = bot.route
    if _fold(words) in {_fold(text) for text in route.undecided}:
        return PortalDecision(reference, found=True)
    outcomes = {_fold(text): outcome for text, outcome in route.decisions.items()}
    outcome = outcomes.get(_fold(words))
    if outcome is None:
        raise ConfigurationError(
            f"The {bot.system_name} showed the decision {' '.join(words.split())!r} on referral {reference}, which "
            f"{PORTALS_FILE} [referral.{route.authority}] decisions does not list: add it with the outcome it means."
        )
    try:
        local = datetime.strptime(" ".join(when.split()), route.decision_time_format)
    except ValueError:
        raise ConfigurationError(
            f"The {bot.system_name} showed the time of its decision on referral {reference} as {when.strip()!r}, "
            f"not as decision_time_format ({route.decision_time_format}) of [referral.{route.authority}] in "
            f"{PORTALS_FILE}."
        ) from None
    decided = local.replace(tzinfo=LONDON).astimezone(UTC)
    return PortalDecision(reference, found=True, outcome=outcome, wording=" ".join(words.split()), decided_at=decided)
