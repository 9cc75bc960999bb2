"""Term dates that run out: the start-up check, the configuration it reads, and the flag a reviewer sees."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import LogCapture

from tests.factories import raw_incident
from vhub.cli import build_parser
from vhub.errors import ConfigurationError
from vhub.models import validate_incident
from vhub.settings import PROJECT_ROOT
from vhub.triage import History, Workflow, load_config, triage
from vhub.triage.config import CONFIG_DIR, CalendarPolicy, TriageConfig
from vhub.triage.term_dates import TermDatesFinding, check_term_dates, warn_about_term_dates

CONFIG = load_config()
LAST = date(2028, 8, 31)  # the last day every configured authority's term dates cover
RUNBOOK = PROJECT_ROOT / "runbooks" / "term-dates.md"


def one_authority(config: TriageConfig, key: str, **changes: Any) -> TriageConfig:
    """The configuration with a single authority, changed."""
    authority = config.authorities[key].model_copy(update=changes)
    return config.model_copy(update={"authorities": {key: authority}})


def test_no_finding_more_than_the_window_before_the_end() -> None:
    """61 days before the term dates end, start-up says nothing."""
    assert [] == check_term_dates(CONFIG, date(2028, 7, 1))


def test_a_warning_names_each_authority_and_its_last_day_within_the_window() -> None:
    """60 days before the end, each authority is warned about, with the last date covered."""
    findings = check_term_dates(CONFIG, date(2028, 7, 2))
    assert ["herefordshire", "worcestershire", "shropshire", "telford_wrekin"] == [f.authority for f in findings]
    assert {("warning", LAST)} == {(f.level, f.last_covered) for f in findings}
    assert (
        "The term dates of Telford & Wrekin end on Thursday 31 August 2028, in 60 days (the warning starts 60 days "
        "before): add the next term dates (runbooks/term-dates.md)." == findings[-1].message
    )


def test_the_window_is_read_from_the_configuration() -> None:
    """A 90-day window set in config warns 80 days ahead; the shipped one says 60 days."""
    config = CONFIG.model_copy(update={"calendar": CalendarPolicy(warn_days_before_end=90)})
    assert (60, 4) == (CONFIG.calendar.warn_days_before_end, len(check_term_dates(config, date(2028, 6, 12))))


def test_term_dates_that_have_ended_are_an_error() -> None:
    """The day after the last date covered, the finding is an error naming the authority and that date."""
    expected = TermDatesFinding(
        "worcestershire",
        "error",
        LAST,
        "The term dates of Worcestershire ended on Thursday 31 August 2028: Operation Encompass deadlines after "
        "that are flagged for the reviewer; add the next term dates (runbooks/term-dates.md).",
    )
    assert [expected] == check_term_dates(one_authority(CONFIG, "worcestershire"), date(2028, 9, 1))


def test_an_authority_without_term_dates_is_an_error() -> None:
    """An authority that states no term dates is reported, whatever the day."""
    config = one_authority(CONFIG, "shropshire", term_dates_from=None, term_dates_until=None, closures=())
    expected = TermDatesFinding(
        "shropshire",
        "error",
        None,
        "No term dates are configured for Shropshire: every Operation Encompass deadline there is flagged for the "
        "reviewer; add the next term dates (runbooks/term-dates.md).",
    )
    assert [expected] == check_term_dates(config, date(2026, 12, 1))


def test_the_start_up_check_logs_warnings_and_errors(captured: LogCapture) -> None:
    """Warnings are logged as warnings, ended term dates as errors, and nothing stops."""
    config = CONFIG.model_copy(
        update={"authorities": {"herefordshire": CONFIG.authorities["herefordshire"].model_copy()}}
    )
    warning, error = warn_about_term_dates(date(2028, 8, 1), config) + warn_about_term_dates(date(2028, 9, 1), config)
    expected = [("warning", "herefordshire", warning.message), ("error", "herefordshire", error.message)]
    assert expected == [(entry["log_level"], entry["authority"], entry["event"]) for entry in captured.entries]


@pytest.mark.parametrize("command", ["up", "worker", "scheduler"])
def test_each_long_running_command_runs_the_check(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`vhub up`, `vhub worker` and `vhub scheduler` run the term dates check as they start."""

    class Started(Exception):
        pass

    calls: list[str] = []

    def started(*args: object, **kwargs: object) -> None:
        raise Started

    monkeypatch.setenv("VHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("vhub.logs.configure", lambda *args, **kwargs: None)
    monkeypatch.setattr("vhub.portals.require_configured", lambda *args: None)
    monkeypatch.setattr("vhub.triage.term_dates.warn_about_term_dates", lambda: calls.append(command))
    monkeypatch.setattr("vhub.runtime.Stack", started)
    monkeypatch.setattr("vhub.worker.run_worker", started)
    monkeypatch.setattr("vhub.scheduler.run_scheduler", started)
    args = build_parser().parse_args([command])
    with pytest.raises(Started):
        args.func(args)
    assert [command] == calls


def write_config(tmp_path: Path, authorities: str) -> Path:
    for name in ("triage.toml", "schools.csv"):
        shutil.copy(CONFIG_DIR / name, tmp_path / name)
    (tmp_path / "authorities.toml").write_text(authorities, encoding="utf-8")
    return tmp_path


def shipped_with(old: str, new: str) -> str:
    text = (CONFIG_DIR / "authorities.toml").read_text(encoding="utf-8")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'term_dates_until = "2028-08-31"',
            'term_dates_until = "2028-07-31"',
            "herefordshire: the closure 2028-07-21 to 2028-08-31 is outside term_dates_from to term_dates_until "
            "(2024-09-01 to 2028-07-31): move the range to cover it",
        ),
        ('term_dates_until = "2028-08-31"\n', "", "herefordshire: give both term_dates_from and term_dates_until"),
        ('["2024-10-28", "2024-11-01"]', '["2024-11-01", "2024-10-28"]', "herefordshire: the closure 2024-11-01 to"),
        ("warn_days_before_end = 60", "", "warn_days_before_end: is missing"),
    ],
)
def test_term_dates_that_contradict_themselves_stop_the_configuration_loading(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    """A closure outside the stated range, half a range, a backwards closure or no warning window is refused."""
    with pytest.raises(ConfigurationError) as caught:
        load_config(write_config(tmp_path, shipped_with(old, new)))
    assert message in caught.value.message


def encompass_reasons(occurred_at: str) -> tuple[str, ...]:
    raw = raw_incident()
    raw["occurred_at"] = occurred_at
    raw["last_modified"] = occurred_at
    case = validate_incident(raw)
    result = triage(case, History(), CONFIG, now=case.last_modified)
    (notice,) = [action for action in result.actions if action.workflow is Workflow.encompass]
    return notice.reasons


def test_the_reviewer_sees_the_flag_on_a_notice_past_the_term_dates() -> None:
    """An Encompass notice whose deadline falls past the term dates carries the flag among its reasons."""
    assert (
        "Term dates are not configured for Herefordshire on Monday 4 September 2028: this deadline assumes a "
        "school day; check the school's own calendar"
    ) == encompass_reasons("01/09/2028 20:00:00 BST")[-1]


def test_a_notice_within_the_term_dates_has_no_flag() -> None:
    """Within the configured term dates, a notice's reasons say nothing about term dates."""
    assert not any("Term dates" in reason for reason in encompass_reasons("01/08/2025 21:00:00 BST"))


def runbook_python_commands() -> list[list[str]]:
    blocks = re.findall(r"```(?:sh|bash)?\n(.*?)```", RUNBOOK.read_text(encoding="utf-8"), re.DOTALL)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith(".venv/bin/python -m vhub.triage.term_dates")]


def test_the_runbooks_term_dates_commands_run() -> None:
    """Each `python -m vhub.triage.term_dates` command in runbooks/term-dates.md runs and lists every authority."""
    commands = runbook_python_commands()
    assert len(commands) >= 2
    for words in commands:
        result = subprocess.run(
            [sys.executable, *words[1:]], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120, check=False
        )
        assert (0, "") == (result.returncode, result.stderr), words
        assert all(authority.name in result.stdout for authority in CONFIG.authorities.values()), words
