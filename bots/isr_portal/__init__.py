"""The ISR portal bot: sign in, list the open Information Sharing Requests, read one request."""

from __future__ import annotations

from bots.isr_portal.bot import IsrPortalBot

__all__ = ["IsrPortalBot"]
