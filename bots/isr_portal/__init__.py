"""The ISR portal bots: list and read the open Information Sharing Requests; post a response, exactly once."""

from __future__ import annotations

from bots.isr_portal.bot import IsrPortalBot
from bots.isr_portal.responder import IsrResponder

__all__ = ["IsrPortalBot", "IsrResponder"]
