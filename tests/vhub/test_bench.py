"""`vhub bench read` times every way of reading incident pages against the raw-HTTP floor in the same run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_bench_reports_each_way_against_the_floor_and_the_naive_bot(tmp_path: Path) -> None:
    """The naive bot, the bot in the browser, the bot by request and the floor are each timed (wall and CPU) and
    shown as a table and as JSON, with speeds relative to the floor and to the naive bot from the same run, and the
    Playwright driver's memory after one pass of reading by request and after ten.

    Run as a command: the bench drives its own Playwright, which cannot share this process with
    pytest-playwright's."""
    result = subprocess.run(
        [sys.executable, "-m", "vhub", "bench", "read", "--pages", "3", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={"VHUB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert 0 == result.returncode, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    ways = {way["name"]: way for way in report["results"]}
    assert [
        "naive: a new browser per page",
        "the bot, each page in the browser",
        "the bot, each page by request (now)",
        "floor: httpx + lxml, no browser",
    ] == list(ways)
    assert (1.0, 1.0) == (
        ways["floor: httpx + lxml, no browser"]["speed_vs_floor"],
        ways["naive: a new browser per page"]["speed_vs_naive"],
    )
    assert all(way["ms_per_page"] > 0 and way["cpu_ms_per_page"] >= 0 for way in ways.values())
    assert ["3", "30"] == list(report["driver_mib_after_reads"])
    assert all(mib > 0 for mib in report["driver_mib_after_reads"].values())
    lines = result.stdout.splitlines()
    assert all(any(line.startswith(f"| {name} | ") for line in lines) for name in ways)
