"""`vhub demo --night` end to end: real processes, a stepped clock, and what reached the simulated Teams webhook."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]
LONDON = ZoneInfo("Europe/London")


def utc(day: date, hour: int, minute: int) -> str:
    """A UK wall-clock time as the store keeps it (UTC, no zone)."""
    moment = datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(sep=" ")


def test_the_night_fires_each_schedule_once_escalates_and_reports(tmp_path: Path) -> None:
    """Every firing of the night is enqueued once (a second try refused), the 07:30 check escalates this evening's
    unapproved notices by school and deadline without names, and the 07:45 report's card has the store's counts."""
    summary_path = tmp_path / "night.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vhub",
            "demo",
            "--night",
            "--incidents",
            "30",
            "--exit",
            "--summary-json",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        env={
            "VHUB_DATA_DIR": str(tmp_path / "var"),
            "VHUB_REVIEW_PORT": "0",
            "PATH": "/usr/bin:/bin",
        },  # 0: beside other stacks
        timeout=1200,
        check=False,
    )
    assert 0 == result.returncode, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    night = date.fromisoformat(summary["day"])

    # 00:00 to 07:50: scans every half hour to 06:30, then every quarter; ISR twice an hour; the watch every quarter;
    # the children's services decisions at ten past each hour.
    assert {
        "overnight_scan": 14,
        "daytime_scan": 4,
        "isr_scan": 16,
        "watch": 32,
        "encompass_check": 1,
        "morning_report": 1,
        "decision_check": 8,
    } == summary["fired"]
    assert sum(summary["fired"].values()) == summary["duplicates_refused"]
    assert all(summary["checks"].values()), summary["checks"]

    schools = ["Brookfield Primary School", "Lugg Meadow Primary School", "St Ethelbert's CE Primary School"]
    for school in schools + ["Marcle Ridge Primary Academy"]:
        assert any(line.startswith(f"{school}: due {night:%d/%m/%Y}") for line in summary["escalated"]), school
    assert not any(word in json.dumps(summary) for word in ("Nightchild", "Nightadult", "Synthetic", "Night Street"))

    with sqlite3.connect(tmp_path / "var" / "demo" / "vhub.db") as store:
        (due_before_nine,) = store.execute(
            "select count(*) from drafts where status in ('awaiting_review', 'returned', 'approved', 'sending') "
            "and deadline > ? and deadline <= ?",
            (utc(night, 7, 45), utc(night, 9, 0)),
        ).fetchone()
        (made,) = store.execute("select count(*) from drafts where status != 'superseded'").fetchone()
        (unapproved_encompass,) = store.execute(
            "select count(*) from drafts where workflow = 'encompass' and status in ('awaiting_review', 'returned') "
            "and deadline >= ? and deadline < ?",
            (utc(night, 0, 0), utc(night + timedelta(days=1), 0, 0)),
        ).fetchone()
    facts = summary["morning_report"]
    assert (str(due_before_nine), str(made)) == (facts["Drafts due before 09:00"], facts["Drafts made"])
    assert due_before_nine >= 4
    assert unapproved_encompass == len(summary["escalated"])
