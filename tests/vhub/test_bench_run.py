"""`vhub bench run` times whole runs beside the floor and a naive bot, memory, sending and the review app."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.records_system.generator import generate
from vhub.simulated.bench_run import RunFigures, Sending, _json_safe, run_table, sending_table

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_bench_run_measures_a_whole_run_and_each_part_against_its_baseline(tmp_path: Path) -> None:
    """A run of 25 incidents on a fresh stack is complete (every valid incident stored), the floor and the naive
    bot are measured against the same records system, each of the two workers' memory is sampled, one draft
    to each portal is sent exactly once, and the review app's pages are timed; figures in tables and JSON.

    Run as a command: the bench drives its own Playwright, which cannot share this process with
    pytest-playwright's."""
    report_path = tmp_path / "bench.json"
    argv = [sys.executable, "-m", "vhub", "bench", "run", "--incidents", "25", "--send-per-portal", "1"]
    argv += ["--drafts", "40", "--clients", "2", "--rounds", "1", "--json", str(report_path)]
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=420,
        env={"VHUB_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
    )
    assert 0 == result.returncode, result.stdout[-3000:] + result.stderr[-3000:]
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == json.loads(report_path.read_text())
    (run,) = printed["runs"]
    valid = sum(1 for item in generate(2026, 25).incidents if item.incident is not None)
    assert (True, [], 25, valid) == (run["complete"], run["unfinished"], run["incidents"], run["stored"])
    assert 0 < run["scan_s"] <= run["read_s"] <= run["done_s"]
    assert run["floor_s"] > 0 and run["naive_ms_per_incident"] > 0 and run["drafts"] > 0
    assert 2 == len(run["peak_worker_mib"]) and all(mib > 100 for mib in run["peak_worker_mib"])
    sending = {item["portal"]: item for item in run["sending"]}
    assert {"isr_portal", "school_portal"} <= set(sending)
    assert all((1, 1, 0) == (item["drafts"], item["sent"], item["duplicates"]) for item in sending.values())
    assert all(item["per_minute"] > 0 for item in sending.values())
    assert 8 == len(printed["review"]) and all(0 == page["failed"] for page in printed["review"])
    assert "| 25 | 2 | 0 | yes |" in result.stdout


def _figures(**changes: object) -> RunFigures:
    figures = RunFigures(
        incidents=1000,
        workers=2,
        latency_ms=0.0,
        complete=True,
        unfinished=[],
        scan_s=5.0,
        read_s=40.0,
        done_s=50.0,
        stored=980,
        drafts=1700,
        floor_s=20.0,
        naive_ms_per_incident=1200.0,
        naive_s=600.0,
        peak_worker_mib=[400.0, 410.0],
        end_worker_mib=[390.0, 400.0],
        redis_peak_mib=12.0,
    )
    for name, value in changes.items():
        setattr(figures, name, value)
    return figures


def test_the_table_gives_ratios_against_the_floor_and_the_naive_bot_and_names_what_did_not_finish() -> None:
    """Per incident 50 ms; reading at half the floor's speed and 15 times the naive bot's; an unfinished run says
    so in its row and names what it left."""
    table = run_table([_figures(), _figures(complete=False, unfinished=["not triaged: 3 of 980 stored incidents"])])
    assert "| 1,000 | 2 | 0 | yes | 5.0 | 40.0 | 50.0 | 50.0 | 20.0 | 0.50x | 600 | 15.0x |" in table
    assert "| 1,000 | 2 | 0 | NO |" in table
    assert "N=1,000 did not complete: not triaged: 3 of 980 stored incidents" in table


def test_a_figure_that_could_not_be_measured_is_null_in_the_json_and_a_dash_in_the_table() -> None:
    """NaN is not JSON: a portal with nothing sent has no median, written as null and shown as a dash; the
    workers' busy share is left out when it could not be measured."""
    idle = Sending("marac_portal", drafts=1, sent=0, per_minute=0.0, median_send_s=math.nan, duplicates=0)
    assert {"runs": [{"median_send_s": None}]} == _json_safe({"runs": [{"median_send_s": math.nan}]})
    table = sending_table([_figures(sending=[idle])])
    assert "| 1,000 | marac_portal | 1 | 0 | 0.0 | - | 0 |" in table
    assert "busy" not in table
