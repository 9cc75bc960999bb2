"""The demo: an overnight run on the embedded stack, from a fresh data folder to a readable summary.

Starts redis-server, the simulated records system (N synthetic incidents from a seed) and the
workers; queues a scan; shows progress while the workers scan and ingest; prints and writes a summary
whose counts can be checked against the generator's ground truth.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from fixtures.records_system.generator import generate
from tasks.ingest import SYSTEM, start_scan
from vhub import context, logs
from vhub.runtime import Stack, exit_on_sigterm
from vhub.settings import Settings
from vhub.store.incidents import count_incidents
from vhub.store.runs import run_progress
from vhub.store.tables import DataQualityItemRow, IncidentRow

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    incidents: int = 300
    seed: int = 2026
    exit_after: bool = False
    summary_json: Path | None = None
    workers: int | None = None
    timeout_s: float = 1800.0


class Progress:
    """A one-line progress bar on a terminal; a line every few seconds elsewhere."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._last = 0.0

    def show(self, label: str, done: int, total: int | None, extra: str = "") -> None:
        now = time.monotonic()
        if not self.tty and now - self._last < 5:
            return
        self._last = now
        if total:
            filled = int(30 * done / total)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}"
        else:
            bar = "[" + "." * 30 + "]"
        line = f"{label:<9}{bar} {extra}"
        self.out.write(f"\r{line:<100}" if self.tty else line + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")


def run_demo(settings: Settings, options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo; returns the process exit code."""
    demo_dir = settings.data_path / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    settings = settings.model_copy(update={"data_dir": demo_dir})
    settings.ensure_dirs()
    logs.configure(settings, process="demo", console=False)
    truth = generate(options.seed, options.incidents)
    expected_invalid = sum(1 for item in truth.incidents if item.incident is None)

    out.write(
        f"vhub demo: {options.incidents} synthetic incidents (seed {options.seed}) in the simulated records system.\n"
        f"Data folder: {demo_dir}\n"
    )
    started = time.monotonic()
    stack = Stack(settings, workers=options.workers, seed=options.seed, incidents=options.incidents)
    exit_on_sigterm()
    with stack:
        ctx = context.configure(
            settings.model_copy(
                update={
                    "redis_url": stack.redis_url,
                    "records_system": settings.records_system.model_copy(update={"url": stack.records_url}),
                }
            )
        )
        ctx.db.migrate()
        out.write(
            f"Started redis-server, the records system at {stack.records_url} and {stack.worker_count} workers.\n"
        )
        run_id = start_scan(kind="demo")
        summary = _follow(ctx, run_id, options, Progress(out))
        summary["duration_s"] = round(time.monotonic() - started, 1)
        summary["ground_truth"] = {"incidents": len(truth.incidents), "invalid": expected_invalid}
        summary["matches_ground_truth"] = (
            summary["incidents_in_source"] == len(truth.incidents)
            and summary["incidents_stored"] == len(truth.incidents) - expected_invalid
            and summary["incidents_invalid"] == expected_invalid
        )
        out.write(render_summary(summary))
        if options.summary_json:
            options.summary_json.parent.mkdir(parents=True, exist_ok=True)
            options.summary_json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
            out.write(f"Summary written to {options.summary_json}\n")
        if not options.exit_after:
            out.write(
                "\nThe stack is still running: try `vhub status` in another terminal "
                f"(VHUB_DATA_DIR={demo_dir}). Press Ctrl-C to stop.\n"
            )
            out.flush()
            _wait_forever()
    out.write("Stopped.\n")
    return 0 if summary["complete"] else 1


def _wait_forever() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return


def _failed_jobs(ctx: context.AppContext) -> int:
    return sum(FailedJobRegistry(queue=queue).count for queue in ctx.jobs.queues())


def _follow(ctx: context.AppContext, run_id: str, options: DemoOptions, progress: Progress) -> dict[str, Any]:
    deadline = time.monotonic() + options.timeout_s
    complete = False
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with ctx.db.session() as session:
            state = run_progress(session, run_id)
        failed = _failed_jobs(ctx)
        counts = Counter(state["counts"])
        if state["found"] is None:
            progress.show("scanning", 0, None, f"failed jobs {failed}")
        else:
            progress.show(
                "ingest",
                state["done"],
                state["found"],
                f"stored {counts['stored']} invalid {counts['invalid']} failed jobs {failed}",
            )
        if state["status"] == "complete":
            complete = True
            break
        waiting = (state["found"] or 0) - state["done"]
        if failed and (state["found"] is None or waiting <= failed) and not _work_in_flight(ctx):
            break  # what is left has failed for good: report it rather than wait for ever
        time.sleep(0.5)
    progress.finish()
    with ctx.db.session() as session:
        stored = count_incidents(session)
        invalid = session.scalar(select(func.count(DataQualityItemRow.id))) or 0
        source_refs = session.scalar(select(func.count(func.distinct(IncidentRow.reference)))) or 0
        invalid_items = [
            {"reference": row.reference, "reasons": row.reasons}
            for row in session.scalars(select(DataQualityItemRow).order_by(DataQualityItemRow.reference))
        ]
    counts = Counter(state.get("counts", {}))
    return {
        "run_id": run_id,
        "complete": complete,
        "incidents_in_source": state.get("found") or 0,
        "incidents_stored": stored,
        "incidents_invalid": invalid,
        "incidents_pending": counts["pending"],
        "distinct_references_stored": source_refs,
        "invalid_items": invalid_items,
        "failed_jobs": _failed_jobs(ctx),
        "source_system": SYSTEM,
    }


def _work_in_flight(ctx: context.AppContext) -> bool:
    for queue in ctx.jobs.queues():
        if queue.count or StartedJobRegistry(queue=queue).count or ScheduledJobRegistry(queue=queue).count:
            return True
    return False


def render_summary(summary: dict[str, Any]) -> str:
    truth = summary["ground_truth"]
    lines = [
        "",
        "Summary",
        f"  Incidents in the records system:   {summary['incidents_in_source']}",
        f"  Stored:                            {summary['incidents_stored']}",
        f"  Invalid (kept for review):         {summary['incidents_invalid']}",
        *(f"    {item['reference']}: {'; '.join(item['reasons'])}" for item in summary["invalid_items"]),
        f"  Failed jobs:                       {summary['failed_jobs']}",
        f"  Duration:                          {summary['duration_s']} s",
        f"  Ground truth: {truth['incidents']} incidents, {truth['invalid']} planted invalid -> "
        + ("counts match" if summary["matches_ground_truth"] else "COUNTS DIFFER: see `vhub status` and the log"),
    ]
    if not summary["complete"]:
        lines.append("  The run did not complete: `vhub failed list` shows why; `vhub failed replay --all` retries.")
    return "\n".join(lines) + "\n"
