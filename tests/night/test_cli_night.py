"""The night's commands when nothing is set up: each says what is missing and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from vhub.cli import main


def test_report_morning_without_a_stack_says_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The morning report needs the queues' failed jobs and paused portals: with no stack it says to start one."""
    monkeypatch.setenv("VHUB_DATA_DIR", str(tmp_path / "var"))
    assert 2 == main(["report", "morning"])
    err = capsys.readouterr().err
    assert "No stack is running on the data folder" in err and "Start it with `vhub up`" in err


def test_alerts_test_names_each_unset_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`vhub alerts test` with no webhooks set names each channel's setting and exits 1, posting nothing."""
    monkeypatch.setenv("VHUB_DATA_DIR", str(tmp_path / "var"))
    for setting in ("VHUB_ALERT_WEBHOOK_URL", "VHUB_DUTY_WEBHOOK_URL"):
        monkeypatch.delenv(setting, raising=False)
    assert 1 == main(["alerts", "test"])
    out = capsys.readouterr().out
    assert "admins: not set (VHUB_ALERT_WEBHOOK_URL)" in out
    assert "duty: not set (VHUB_DUTY_WEBHOOK_URL)" in out
