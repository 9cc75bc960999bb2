"""The demo: an overnight run on the embedded stack, from a fresh data folder to a readable summary.

Starts redis-server, the simulated records system (N synthetic incidents from a seed) and the
workers; queues a scan; shows progress while the workers scan, ingest, triage and draft; prints and writes
a summary whose counts are checked against the generator's ground truth. The summary says the run is
complete only when it checked that it is (every version read, every stored incident triaged, no job left
or failed), and otherwise says what is unfinished.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from rq.registry import FailedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fixtures.records_system.generator import generate
from tasks.ingest import SYSTEM, start_scan
from tasks.isr import start_isr_scan
from vhub import context, logs
from vhub.models import LONDON
from vhub.reports import build_backlog, write_backlog
from vhub.review.accounts import add_demo_accounts
from vhub.review.queue import historic_backlog
from vhub.runtime import Stack, stop_on_signals
from vhub.settings import Settings
from vhub.simulated.auto_approve import approve_all, portal_counts, sent_by_portal
from vhub.simulated.systems import Simulators
from vhub.store.incidents import count_incidents
from vhub.store.runs import run_progress
from vhub.store.tables import DataQualityItemRow, DraftRow, IncidentRow, RunRow, TriageResultRow, utcnow
from vhub.triage import load_config

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    incidents: int = 300
    seed: int = 2026
    exit_after: bool = False
    summary_json: Path | None = None
    workers: int | None = None
    auto_approve: bool = False
    days: int = 0  # with auto_approve: simulated days of decision checks after sending (vhub/simulated/days.py)
    timeout_s: float | None = None  # None: default_timeout_s(incidents)

    @property
    def time_limit_s(self) -> float:
        return default_timeout_s(self.incidents) if self.timeout_s is None else self.timeout_s


def default_timeout_s(incidents: int) -> float:
    """The demo's time limit when none is given: five minutes, plus a second an incident."""
    return 300.0 + incidents


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
    one_approver = {"review_second_approver_for_red": False} if options.auto_approve else {}
    settings = settings.model_copy(update={"data_dir": demo_dir, **one_approver})
    settings.ensure_dirs()
    logs.configure(settings, process="demo", console=False)
    # The synthetic night ends now, so a deadline shown as overdue is overdue; the same seed and anchor give the
    # same records (`vhub fixtures dump --anchor`).
    anchor = utcnow().replace(second=0, microsecond=0)
    truth = generate(options.seed, options.incidents, anchor)
    expected_invalid = sum(1 for item in truth.incidents if item.incident is None)

    out.write(
        f"vhub demo: {options.incidents} synthetic incidents (seed {options.seed}, up to {anchor.isoformat()}) in the "
        f"simulated records system.\nData folder: {demo_dir}\n"
    )
    started = time.monotonic()
    stack = Stack(
        settings,
        workers=options.workers,
        simulators=Simulators(seed=options.seed, incidents=options.incidents, anchor=anchor),
        review=True,
    )
    stop_on_signals()
    with stack:
        ctx = context.configure(stack.resolved())
        ctx.db.migrate()
        out.write(
            f"Started redis-server, the records system at {stack.records_url}, the ISR portal at {stack.isr_url} "
            f"and {stack.worker_count} workers.\n"
        )
        run_id = start_scan(kind="demo")
        start_isr_scan()
        progress = Progress(out)
        deadline = time.monotonic() + options.time_limit_s
        summary, finished = _follow(ctx, run_id, deadline, progress)
        if options.auto_approve:
            approved = approve_all(ctx)
            out.write(
                f'Auto-approved {approved} drafts as "auto-approve (demo)" (audited; one approval for red risk in '
                "this demo only); sending them...\n"
            )
            finished = _wait_quiet(ctx, deadline, progress)
            summary["auto_approved"] = approved
            summary.update(_delivery(ctx, stack.urls))
            if options.days:
                from vhub.simulated.days import run_days  # it builds on the night's helpers, which import this module

                summary["days"] = run_days(
                    ctx, stack.urls, stack.webhook_sink_url, options.days, settings.data_path / "reports", out
                )
        summary["duration_s"] = round(time.monotonic() - started, 1)
        with ctx.db.session(read_only=True) as session:
            unfinished = unfinished_work(
                session,
                run_id,
                jobs_in_flight=ctx.jobs.in_flight(),
                failed_jobs=failed_jobs(ctx),
                time_limit_s=None if finished else options.time_limit_s,
            )
        summary.update(conclude(summary, unfinished, incidents=len(truth.incidents), invalid=expected_invalid))
        summary["historic_backlog"] = {
            "incidents": len(truth.historic_backlog),
            "before": truth.historic_before.astimezone(LONDON).strftime("%d/%m/%Y"),
        }
        with ctx.db.session(read_only=True) as session:
            report = build_backlog(session, load_config(), utcnow())
        summary["backlog_report"] = str(write_backlog(report, settings.data_path / "reports")[0])
        out.write(render_summary(summary))
        if "days" in summary:
            from vhub.simulated.days import render_days

            out.write(render_days(summary["days"]))
        if options.summary_json:
            options.summary_json.parent.mkdir(parents=True, exist_ok=True)
            options.summary_json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
            out.write(f"Summary written to {options.summary_json}\n")
        if not options.exit_after:
            keep_running(ctx, stack, out, try_commands="`vhub status` or `vhub report backlog`", data_dir=demo_dir)
    out.write("Stopped.\n")
    return 0 if summary["complete"] and summary.get("days", {}).get("ok", True) else 1


def _wait_quiet(ctx: context.AppContext, deadline: float, progress: Progress) -> bool:
    """Show sending until no job is left twice in a row (True) or the time limit (False)."""
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        with ctx.db.session(read_only=True) as session:
            sent = session.scalar(select(func.count(DraftRow.id)).where(DraftRow.status == "sent")) or 0
            approved = (
                session.scalar(
                    select(func.count(DraftRow.id)).where(DraftRow.status.in_(("approved", "sending", "sent")))
                )
                or 0
            )
        progress.show("sending", sent, approved, f"failed jobs {failed_jobs(ctx)}")
        quiet = 0 if ctx.jobs.in_flight() else quiet + 1
        time.sleep(0.5)
    progress.finish()
    return quiet >= 2


def _delivery(ctx: context.AppContext, urls: dict[str, str]) -> dict[str, Any]:
    counts = portal_counts(urls)
    sent = sent_by_portal(ctx)
    with ctx.db.session(read_only=True) as session:
        returned = (
            session.scalar(select(func.count(DraftRow.id)).where(DraftRow.attention_reason.like("The partner (%"))) or 0
        )
    return {
        **counts,
        "drafts_sent": sum(sent.values()),
        "drafts_sent_by_portal": sent,
        "refused_by_partners": returned,
        "portal_records_match": counts["submissions_by_portal"]
        == {name: sent.get(name, 0) for name in counts["submissions_by_portal"]},
    }


def keep_running(ctx: context.AppContext, stack: Stack, out: TextIO, *, try_commands: str, data_dir: Path) -> None:
    """Give the demo accounts of the review app, then keep the stack running until Ctrl-C."""
    with ctx.db.session() as session:
        accounts = add_demo_accounts(session)
    out.write(f"\nThe review app is at {stack.review_url} — sign in with a demo account:\n")
    for username, password, role in accounts:
        out.write(f"  {username:<17} password {password}   ({role})\n")
    out.write(
        f"\nThe stack is still running: try {try_commands} in another terminal "
        f"(VHUB_DATA_DIR={data_dir}). Press Ctrl-C to stop.\n"
    )
    out.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return


def failed_jobs(ctx: context.AppContext) -> int:
    """Jobs in every queue's failed registry."""
    return sum(FailedJobRegistry(queue=queue).count for queue in ctx.jobs.queues())


def _follow(ctx: context.AppContext, run_id: str, deadline: float, progress: Progress) -> tuple[dict[str, Any], bool]:
    """Show the run's progress (scanning, ingest, then triage and drafting) until no job is left twice in a
    row (True) or the time limit (False)."""
    quiet = 0
    phase = ""
    state: dict[str, Any] = {}
    while time.monotonic() < deadline and quiet < 2:
        with ctx.db.session(read_only=True) as session:
            state = run_progress(session, run_id)
            handed_over = session.get_one(RunRow, run_id).triage_queued_at is not None
            if handed_over:
                triaged = session.scalar(select(func.count(TriageResultRow.id))) or 0
                stored = count_incidents(session)
                drafts = session.scalar(select(func.count(DraftRow.id))) or 0
        failed = failed_jobs(ctx)
        now = "scanning" if state["found"] is None else "triage" if handed_over else "ingest"
        if phase and now != phase:
            progress.finish()
        phase = now
        if now == "scanning":
            progress.show("scanning", 0, None, f"failed jobs {failed}")
        elif now == "ingest":
            counts = Counter(state["counts"])
            progress.show(
                "ingest",
                state["done"],
                state["found"],
                f"stored {counts['stored']} invalid {counts['invalid']} failed jobs {failed}",
            )
        else:
            progress.show("triage", triaged, stored, f"drafts {drafts} failed jobs {failed}")
        quiet = 0 if _work_in_flight(ctx) else quiet + 1
        time.sleep(0.5)
    progress.finish()
    return _summarise(ctx, run_id, state), quiet >= 2


def unfinished_work(
    session: Session, run_id: str, *, jobs_in_flight: int, failed_jobs: int, time_limit_s: float | None
) -> list[str]:
    """What the run has left undone, checked in the store and the queues: empty only when every listed version
    was read, every stored incident triaged, and no job is left or failed. ``time_limit_s``: the limit, if the
    demo stopped waiting at it."""
    unfinished = []
    if time_limit_s is not None:
        unfinished.append(f"time limit reached: the demo stopped waiting after {time_limit_s:.0f} s (see --timeout)")
    run = run_progress(session, run_id)
    if run["found"] is None:
        unfinished.append("not scanned: the records system's changed incidents were not listed")
    counts = Counter(run["counts"])
    if counts["pending"]:
        unfinished.append(f"not read: {counts['pending']} of {run['found']} listed incident versions")
    if counts["failed"]:
        unfinished.append(f"reading failed: {counts['failed']} of {run['found']} listed incident versions")
    untriaged = (
        session.scalar(
            select(func.count(IncidentRow.id)).where(
                IncidentRow.is_latest.is_(True),
                ~select(TriageResultRow.id).where(TriageResultRow.incident_id == IncidentRow.id).exists(),
            )
        )
        or 0
    )
    if untriaged:
        unfinished.append(f"not triaged: {untriaged} of {count_incidents(session)} stored incidents")
    if jobs_in_flight:
        unfinished.append(f"jobs still queued or running: {jobs_in_flight} (triage, drafting or sending)")
    if failed_jobs:
        unfinished.append(f"failed jobs: {failed_jobs} (`vhub failed list` shows why)")
    return unfinished


def conclude(summary: dict[str, Any], unfinished: list[str], *, incidents: int, invalid: int) -> dict[str, Any]:
    """Whether the run is complete and its counts match the generator's ``incidents`` and planted ``invalid``:
    counts of an unfinished run are not a match, whatever they are."""
    counts_match = (
        summary["incidents_in_source"] == incidents
        and summary["incidents_stored"] == incidents - invalid
        and summary["incidents_invalid"] == invalid
    )
    return {
        "complete": not unfinished,
        "unfinished": unfinished,
        "ground_truth": {"incidents": incidents, "invalid": invalid},
        "matches_ground_truth": not unfinished and counts_match,
    }


def _summarise(ctx: context.AppContext, run_id: str, state: dict[str, Any]) -> dict[str, Any]:
    counts = Counter(state.get("counts", {}))
    with ctx.db.session(read_only=True) as session:
        ingest_items = session.scalars(
            select(DataQualityItemRow)
            .where(DataQualityItemRow.source_system == SYSTEM)
            .order_by(DataQualityItemRow.reference)
        ).all()
        triage_by_risk = dict(
            session.execute(select(TriageResultRow.risk, func.count()).group_by(TriageResultRow.risk)).all()
        )
        drafts_by_type = dict(
            session.execute(
                select(DraftRow.workflow, func.count())
                .where(DraftRow.status == "awaiting_review")
                .group_by(DraftRow.workflow)
            ).all()
        )
        waiting = session.scalars(
            select(DraftRow).where(DraftRow.status == "awaiting_review").order_by(DraftRow.deadline, DraftRow.id)
        ).yield_per(100)
        urgent = list(islice((draft for draft in waiting if not historic_backlog(draft.deadline, draft.created_at)), 5))
        return {
            "run_id": run_id,
            "most_urgent_drafts": [
                {
                    "draft": draft.id,
                    "type": draft.workflow,
                    "source": draft.source_ref,
                    "to": draft.recipient_name,
                    "risk": draft.risk,
                    "deadline": draft.deadline.astimezone(LONDON).strftime("%d/%m/%Y %H:%M")
                    if draft.deadline
                    else None,
                    "why": [*draft.reasons[1:2], draft.reasons[-1]] if len(draft.reasons) > 2 else draft.reasons,
                }
                for draft in urgent
            ],
            "incidents_in_source": state.get("found") or 0,
            "incidents_stored": count_incidents(session),
            "incidents_invalid": len(ingest_items),
            "incidents_pending": counts["pending"],
            "incidents_failed": counts["failed"],
            "invalid_items": [{"reference": row.reference, "reasons": row.reasons} for row in ingest_items],
            "triage_by_risk": {level: triage_by_risk.get(level, 0) for level in ("red", "amber", "green", "blue")},
            "drafts_by_type": drafts_by_type,
            "data_quality_items": session.scalar(
                select(func.count(DataQualityItemRow.id)).where(DataQualityItemRow.status == "open")
            ),
            "failed_jobs": failed_jobs(ctx),
            "source_system": SYSTEM,
        }


def _work_in_flight(ctx: context.AppContext) -> bool:
    return ctx.jobs.in_flight() > 0


def render_summary(summary: dict[str, Any]) -> str:
    truth = summary["ground_truth"]
    lines = [
        "",
        "Summary",
        f"  Incidents in the records system:   {summary['incidents_in_source']}",
        f"  Stored:                            {summary['incidents_stored']}",
        f"  Invalid (kept for review):         {summary['incidents_invalid']}",
        *(f"    {item['reference']}: {'; '.join(item['reasons'])}" for item in summary["invalid_items"]),
        "  Triage by risk:                    "
        + ", ".join(f"{level} {count}" for level, count in summary["triage_by_risk"].items()),
        "  Drafts made by the bots:           "
        + (", ".join(f"{kind} {count}" for kind, count in sorted(summary["drafts_by_type"].items())) or "none"),
        f"  Data-quality items for a person:   {summary['data_quality_items']}",
        *(
            f"  Historic backlog:                  {backlog['incidents']} of the incidents happened before "
            f'{backlog["before"]}: not the night\'s; in the queue, "historic backlog" beside the deadline'
            for backlog in [summary.get("historic_backlog")]
            if backlog
        ),
        "  Most urgent drafts of the night (by deadline):",
        *(
            f"    #{d['draft']} {d['type']} for {d['source']} to {d['to']}, "
            f"risk {d['risk'] or '-'}, due {d['deadline']}\n      {'; '.join(d['why'])}"
            for d in summary["most_urgent_drafts"]
        ),
        f"  Failed jobs:                       {summary['failed_jobs']}",
        f"  Duration:                          {summary['duration_s']} s",
        f"  Ground truth: {truth['incidents']} incidents, {truth['invalid']} planted invalid -> " + _verdict(summary),
    ]
    if "drafts_sent" in summary:
        lines.append(f"  Auto-approved (demo):              {summary['auto_approved']}")
        lines.append(f"  Drafts sent:                       {summary['drafts_sent']}")
        for portal, count in summary["submissions_by_portal"].items():
            lines.append(
                f"    {portal:<28} portal holds {count}, vhub sent {summary['drafts_sent_by_portal'].get(portal, 0)}, "
                f"duplicates {summary['duplicates_in_portals'].get(portal, 0)}"
            )
        lines.append(f"  Refused by partners (back in review): {summary['refused_by_partners']}")
        lines.append(
            "  Portal records "
            + ("match what vhub sent" if summary["portal_records_match"] else "DIFFER from what vhub sent")
        )
    lines.append(f"  Backlog report:                    {summary['backlog_report']}")
    if not summary["complete"]:
        lines.append("  The run did not complete:")
        lines.extend(f"    {what}" for what in summary["unfinished"])
        lines.append(
            "  `vhub status` shows where it is; `vhub failed list` what failed; `vhub failed replay --all` retries."
        )
    return "\n".join(lines) + "\n"


def _verdict(summary: dict[str, Any]) -> str:
    if summary["matches_ground_truth"]:
        return "counts match"
    if not summary["complete"]:
        return "NOT CHECKED: the run did not complete (below)"
    return "COUNTS DIFFER: see `vhub status` and the log"
