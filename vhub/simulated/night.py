"""`vhub demo --night`: an unattended night on the simulated systems, with the clock stepped instead of waited for.

The records system holds the synthetic history plus a few domestic-abuse incidents of this evening, each with a
child at a school, so their Operation Encompass notices are due at the start of the next school day. The night
is that school day's, from midnight to 07:50: every firing of queue/queues.toml's schedules in it is fired at
its simulated time through the same claim the scheduler uses, twice (as two schedulers started by mistake
would), and the workers finish its work before the clock moves on. Nobody approves anything, so the
before-school Encompass check escalates the new notices to the duty sergeant's channel, and the morning report
reaches the admins' channel; both land in the simulated Teams webhook, which the summary reads back.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx

from fixtures.records_system.truth import format_uk_datetime
from fixtures.synthetic import SCHOOLS
from vhub import context, logs
from vhub.clock import uk_at, uk_day, uk_time
from vhub.models import DASH_KEYS
from vhub.runtime import Stack, stop_on_signals
from vhub.scheduler import check_schedules, fire, firings
from vhub.settings import Settings
from vhub.simulated.demo import keep_running
from vhub.simulated.systems import Simulators
from vhub.store.tables import utcnow
from vhub.triage import load_config
from vhub.triage.calendar import next_school_day_start

log = logs.get_logger(__name__)

NIGHT_ENDS = (7, 50)
"""The simulated night ends at 07:50 UK time: after the before-school check and the morning report."""
PLANTED_SCHOOLS = tuple(school for school in SCHOOLS if school.phase == "primary")[:4]


@dataclass(frozen=True)
class NightOptions:
    incidents: int = 120
    seed: int = 2026
    tonight: int = 4  # domestic-abuse incidents of this evening, each with a child at school
    workers: int | None = None
    exit_after: bool = False
    summary_json: Path | None = None
    step_timeout_s: float = 600.0  # longest wait for one firing's work


def tonight_incidents(now: datetime, count: int) -> tuple[list[dict[str, Any]], datetime]:
    """``count`` domestic-abuse incidents of the last two hours (each with a child at a primary school of its
    authority), as the records system displays them; and the start of the school day their notices are due by."""
    config = load_config()
    records: list[dict[str, Any]] = []
    due: datetime | None = None
    for number in range(count):
        school = PLANTED_SCHOOLS[number % len(PLANTED_SCHOOLS)]
        occurred = now - timedelta(minutes=30 + 20 * number)
        deadline = next_school_day_start(occurred, config.authorities[school.authority]).at
        due = deadline if due is None else min(due, deadline)
        address = {"line1": f"{number + 1} Night Street", "town": "Synthetic", "postcode": f"{school.district} 9ZZ"}
        records.append(
            {
                "incident_type": "Domestic abuse",
                "domestic_abuse": True,
                "crime_classification": "Common assault",
                "occurred_at": format_uk_datetime(occurred),
                "last_modified": format_uk_datetime(now),
                "location": address,
                "officer": f"PC {4100 + number}",
                "people": [
                    {
                        "nominal_ref": f"N99{number:03d}1",
                        "forename": "Nightadult",
                        "surname": f"Synthetic{number + 1}",
                        "date_of_birth": "02/05/1991",
                        "gender": "female",
                        "address": address,
                        "role": "victim",
                        "relationship": None,
                        "present": True,
                    },
                    {
                        "nominal_ref": f"N99{number:03d}2",
                        "forename": "Nightchild",
                        "surname": f"Synthetic{number + 1}",
                        "date_of_birth": f"20/09/{now.year - 8}",
                        "gender": "female",
                        "address": address,
                        "role": "child",
                        "relationship": "daughter of victim",
                        "school": school.name,
                        "present": False,
                    },
                ],
                "dash": {"answers": {key: False for key in DASH_KEYS}, "officer_grading": "medium"},
                "ppn": {"grade": "medium", "raised_at": format_uk_datetime(occurred + timedelta(minutes=20))},
                "child_risk_assessments": [],
                "narrative": "Officers attended after a call from a neighbour.",
            }
        )
    assert due is not None or not count
    return records, due or now


def run_night(settings: Settings, options: NightOptions, out: TextIO = sys.stdout) -> int:
    """Run the simulated night; returns the process exit code (0 when every check of the summary held)."""
    demo_dir = settings.data_path / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    settings = settings.model_copy(update={"data_dir": demo_dir})
    settings.ensure_dirs()
    logs.configure(settings, process="demo", console=False)
    now = utcnow()
    planted, due = tonight_incidents(now, options.tonight)
    extra = settings.run_dir / "tonight.json"
    extra.write_text(json.dumps(planted), encoding="utf-8")
    day = uk_day(due)
    start, end = uk_at(day, 0, 0) - timedelta(minutes=1), uk_at(day, *NIGHT_ENDS)
    out.write(
        f"vhub demo --night: {options.incidents} synthetic incidents (seed {options.seed}) and {len(planted)} of this "
        f"evening with a child at school.\nThe night of {day:%A %d/%m/%Y}, 00:00 to 07:50, on a stepped clock. "
        f"Data folder: {demo_dir}\n"
    )
    stack = Stack(
        settings,
        workers=options.workers,
        simulators=Simulators(seed=options.seed, incidents=options.incidents, extra=extra),
        review=True,
    )
    stop_on_signals()
    with stack:
        ctx = context.configure(stack.resolved())
        ctx.db.migrate()
        check_schedules(ctx.jobs.policy)
        out.write(f"The simulated Teams webhook is {stack.webhook_sink_url} (GET /_admin/received lists the cards).\n")
        fired: Counter[str] = Counter()
        refused = 0
        unfinished: list[str] = []
        for minute, schedule in firings(ctx.jobs.policy.schedules, settings.tz, start, end):
            job = fire(ctx.jobs, schedule, minute)
            refused += fire(ctx.jobs, schedule, minute) is None  # the second scheduler's try at the same firing
            if job is None:
                unfinished.append(f"{schedule.name} at {uk_time(minute)} was claimed before the night began")
                continue
            fired[schedule.name] += 1
            if schedule.name != "watch":
                out.write(f"  {uk_time(minute)}  {schedule.name:<16} enqueued once (a second try was refused)\n")
                out.flush()
            if not wait_quiet(ctx, options.step_timeout_s):
                unfinished.append(f"{schedule.name} at {uk_time(minute)}: work still running after the time limit")
                break
        out.write(f"  (the watch fired {fired['watch']} times, every quarter of an hour)\n")
        summary = _summary(stack.webhook_sink_url, fired, refused, unfinished, day, len(planted))
        out.write(render_night(summary))
        if options.summary_json:
            options.summary_json.parent.mkdir(parents=True, exist_ok=True)
            options.summary_json.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        if not options.exit_after:
            keep_running(ctx, stack, out, try_commands="`vhub runs list` or `vhub report morning`", data_dir=demo_dir)
    return 0 if summary["ok"] else 1


def wait_quiet(ctx: context.AppContext, timeout_s: float) -> bool:
    """Until no job is queued, running, scheduled or held back, twice in a row (True), or the time limit."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        quiet = 0 if ctx.jobs.in_flight() else quiet + 1
        time.sleep(0.2)
    return quiet >= 2


def received_cards(sink_url: str, channel: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{sink_url}/_admin/received", params={"channel": channel}, timeout=10)
    response.raise_for_status()
    return [post["card"]["attachments"][0]["content"] for post in response.json()]


def _summary(
    sink_url: str, fired: Counter[str], refused: int, unfinished: list[str], day: Any, planted: int
) -> dict[str, Any]:
    duty = received_cards(sink_url, "duty")
    admins = received_cards(sink_url, "admins")
    escalations = [card for card in duty if card["body"][0]["text"].startswith("Operation Encompass")]
    reports = [card for card in admins if card["body"][0]["text"].startswith("VHub morning report")]
    report_facts = {fact["title"]: fact["value"] for fact in reports[0]["body"][1]["facts"]} if reports else {}
    escalated = [element["text"] for card in escalations for element in card["body"][2:-1]]
    checks = {
        "each firing enqueued once": not unfinished and refused == sum(fired.values()),
        "the Encompass check escalated once": len(escalations) == 1,
        "every notice of this evening escalated": len(escalated) >= planted,
        "the morning report reached the admins' channel": len(reports) == 1,
    }
    return {
        "day": day.isoformat(),
        "fired": dict(fired),
        "duplicates_refused": refused,
        "unfinished": unfinished,
        "escalated": escalated,
        "morning_report": report_facts,
        "cards": {"duty": len(duty), "admins": len(admins)},
        "checks": checks,
        "ok": all(checks.values()),
    }


def render_night(summary: dict[str, Any]) -> str:
    lines = [
        "",
        "The night",
        "  Firings:        " + ", ".join(f"{name} {count}" for name, count in sorted(summary["fired"].items())),
        f"  A second try at each firing was refused {summary['duplicates_refused']} times (the once-only claim).",
        f"  Cards in the simulated Teams webhook: duty sergeant {summary['cards']['duty']}, admins "
        f"{summary['cards']['admins']}",
        "  Escalated before school (not approved, due today):",
        *(f"    {line}" for line in summary["escalated"]),
        "  The morning report's summary card:",
        *(f"    {label}: {value}" for label, value in summary["morning_report"].items()),
        "  Checks:",
        *(f"    {'ok  ' if held else 'FAIL'} {check}" for check, held in summary["checks"].items()),
        *(f"  Unfinished: {what}" for what in summary["unfinished"]),
    ]
    return "\n".join(lines) + "\n"
