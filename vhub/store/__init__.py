"""The SQL store: the system of record for incidents, runs, watermarks, data quality and audit."""

from __future__ import annotations

from vhub.store.database import Database

__all__ = ["Database"]
