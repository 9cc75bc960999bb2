"""The school portal bot: Operation Encompass notices to schools and education teams, exactly once."""

from __future__ import annotations

from bots.school_portal.bot import SchoolPortalBot

__all__ = ["SchoolPortalBot"]
