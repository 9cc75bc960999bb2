"""The submission bot of each partner portal, by portal name (config/portals.toml names them).

Each portal's bot is imported when first needed, so a worker loads only the bots it uses.
"""

from __future__ import annotations

from typing import Any

from bots.submission import SubmissionBot
from vhub.errors import ConfigurationError
from vhub.settings import Settings


def submission_bot(settings: Settings, portal: str, recipient: dict[str, Any]) -> SubmissionBot:
    if portal.startswith("referral_"):
        from bots.referral_portal import bot_for

        return bot_for(settings, recipient.get("authority"))
    if portal == "school_portal":
        from bots.school_portal import SchoolPortalBot

        return SchoolPortalBot(settings)
    if portal == "marac_portal":
        from bots.marac_portal import MaracPortalBot

        return MaracPortalBot(settings)
    if portal == "isr_portal":
        from bots.isr_portal import IsrResponder

        return IsrResponder(settings)
    raise ConfigurationError(f"No bot knows the portal {portal!r}: check config/portals.toml.")
