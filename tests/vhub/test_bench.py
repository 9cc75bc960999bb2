"""`vhub bench read` measures every way of reading against the baseline in the same run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_bench_reports_each_way_against_the_baseline(tmp_path: Path) -> None:
    """Four ways are timed; the baseline's ratio is 1.00 and every time is a positive number.

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
    rows = re.findall(r"^  (.+?)\s+([\d.]+) ms/page\s+([\d.]+)x baseline$", result.stdout, re.MULTILINE)
    assert 4 == len(rows)
    assert ("one round trip per field (baseline)", "1.00") == (rows[0][0], rows[0][2])
    assert all(float(ms) > 0 for _, ms, _ in rows)
