"""The MARAC portal bot: referrals of adult victims of domestic abuse to their area's MARAC, exactly once."""

from __future__ import annotations

from bots.marac_portal.bot import MaracPortalBot

__all__ = ["MaracPortalBot"]
