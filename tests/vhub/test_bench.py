"""`vhub bench read` measures every way of reading against the baseline in the same run."""

from __future__ import annotations

import io

import pytest

from vhub.bench import bench_read
from vhub.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_bench_reports_each_way_against_the_baseline(settings: Settings) -> None:
    """Four ways are timed; the baseline's ratio is 1 and every time is a positive number."""
    settings.ensure_dirs()
    out = io.StringIO()
    results = bench_read(settings, pages=3, rounds=1, out=out)
    assert 4 == len(results)
    assert "one round trip per field (baseline)" == results[0].name and 1.0 == results[0].ratio
    assert all(result.ms_per_page > 0 for result in results)
    assert "x baseline" in out.getvalue()
