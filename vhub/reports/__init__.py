"""Reports for the force: the backlog report (HTML with charts, and CSV)."""

from __future__ import annotations

from vhub.reports.backlog import BacklogReport, build_backlog, write_backlog

__all__ = ["BacklogReport", "build_backlog", "write_backlog"]
