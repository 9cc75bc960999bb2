"""The fault run in small (`vhub faults run --reduced`, the full one is `make test-faults`): each fault alone, then
all together, on one simulated stack; nothing lost, nothing sent twice, and `vhub verify` passes after the replay."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from vhub.settings import Settings
from vhub.simulated.fault_run import ISR_REQUESTS_ENV, REDUCED, run_faults

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]


def test_every_fault_alone_and_together_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under 5xx, latency, expiring sessions, lost confirmations, SIGKILLed workers, a Redis restart from its AOF, a
    locked store and the records system down, every incident is accounted for and no partner holds a submission
    twice; each killed worker's job is given back and each phase recovers; the replay and `vhub verify` pass."""
    monkeypatch.setenv(ISR_REQUESTS_ENV, "2")  # set again by the run; put back afterwards
    out = io.StringIO()
    report = run_faults(Settings(data_dir=tmp_path / "var"), REDUCED, out)
    text = out.getvalue()
    assert [] == report.failing, text
    assert [name for name, _ in REDUCED.phases()] == [row.fault for row in report.rows]
    assert [] == [row.fault for row in report.rows if row.lost or row.duplicated], text
    assert [] == [row.fault for row in report.rows if row.recover_s is None], text
    struck = {row.fault: row.injected for row in report.rows}
    once_at_least = (
        "redis-server killed, restarted from AOF",
        "database locked (SQLite)",
        f"records system down {REDUCED.records_down_s:.0f} s",
    )
    assert [] == [name for name in once_at_least if struck[name] < 1], text
    assert report.kills and all(kill.detected_s is not None for kill in report.kills), text
    assert "All invariants hold." in text
