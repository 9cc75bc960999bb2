"""The referral bot: one bot for every local authority's children's-services portal, driven by configuration."""

from bots.referral_portal.bot import ReferralPortalBot, bot_for
from bots.referral_portal.route import PortalRoute, load_route

__all__ = ["PortalRoute", "ReferralPortalBot", "bot_for", "load_route"]
