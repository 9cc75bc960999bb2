"""Runs as an admin reads them on the command line: `vhub runs list` and `vhub runs show`, in UK time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vhub.clock import uk_time
from vhub.store.runs import RunRecord
from vhub.store.tables import RunRow

SHOWN_AT_RISK = 20
"""Drafts at risk listed by `vhub runs show`; the rest are counted."""
KINDS = {
    "scheduled": "scan (scheduled)",
    "manual": "scan (by hand)",
    "demo": "scan (demo)",
    "encompass_check": "Encompass check",
    "morning_report": "morning report",
}


def _kind(run: RunRow | RunRecord) -> str:
    return KINDS.get(run.kind, run.kind)


def render_list(runs: Sequence[RunRow]) -> str:
    if not runs:
        return "No runs yet. The scheduler starts them (`vhub up`); `vhub run scan` starts one by hand."
    lines = [f"{'run':<10}{'kind':<20}{'started':<22}{'finished':<22}{'status':<12}{'found':>6}"]
    for run in runs:
        found = "-" if run.found is None else str(run.found)
        finished = uk_time(run.finished_at)
        lines.append(
            f"{run.id[:8]:<10}{_kind(run):<20}{uk_time(run.started_at):<22}{finished:<22}{run.status:<12}{found:>6}"
        )
    lines.append("`vhub runs show RUN` (the first 8 characters of its id) shows one run's counts.")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {count}" for key, count in sorted(value.items())) or "none"
    return "-" if value is None else str(value)


def render_run(record: RunRecord) -> str:
    lines = [
        f"Run {record.id}",
        f"  Kind:      {_kind(record)} ({record.system})",
        f"  Status:    {record.status}",
        f"  Started:   {uk_time(record.started_at)}",
        f"  Finished:  {uk_time(record.finished_at, empty='not yet')}",
        "  Counts:",
        *(f"    {stage.replace('_', ' '):<26} {_value(value)}" for stage, value in record.stages.items()),
    ]
    if record.kind not in ("encompass_check", "morning_report"):
        lines.append(f"  Failures:  {record.failures} incident version(s) could not be read (`vhub failed list`)")
        lines.append(f"  Deadlines at risk (not sent, due within 4 hours or past): {len(record.at_risk)}")
        shown = record.at_risk[:SHOWN_AT_RISK]
        lines += [f"    draft #{draft} {kind}, {ref}: due {uk_time(due)}" for draft, kind, ref, due in shown]
        if len(record.at_risk) > SHOWN_AT_RISK:
            lines.append(
                f"    and {len(record.at_risk) - SHOWN_AT_RISK} more (in the review queue, soonest deadline first)"
            )
    return "\n".join(lines)
