"""The records system bot: sign in, list changed incidents, read one incident."""

from __future__ import annotations

from bots.records_system.bot import RecordsBot

__all__ = ["RecordsBot"]
