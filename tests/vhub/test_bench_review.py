"""`vhub bench review` seeds a store, serves the review app over it and times its pages, from the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bench_review_times_each_page_for_one_reviewer_and_several(tmp_path: Path) -> None:
    """Each of four pages is timed alone and with two reviewers at once, every request answered."""
    result = subprocess.run(
        [sys.executable, "-m", "vhub", "bench", "review", "--drafts", "60", "--clients", "2", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        env={"VHUB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert 0 == result.returncode, result.stderr
    rows = re.findall(
        r"^\| ([a-z, ]+) \| (\d+) \| (\d+) \| \d+ \| \d+ \| \d+ \| (\d+) \| [\d.]+ \|$", result.stdout, re.MULTILINE
    )
    assert [("1", "2", "0")] * 4 + [("2", "2", "0")] * 4 == [
        (clients, requests, failed) for _, clients, requests, failed in rows
    ]
