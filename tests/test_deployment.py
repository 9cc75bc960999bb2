"""deploy/: the systemd units run commands the CLI accepts, and the settings file names only real settings."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from vhub.cli import build_parser
from vhub.settings import OWN_SETTINGS, ExternalSystem, Settings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def test_there_is_a_unit_for_the_workers_the_scheduler_and_the_review_app() -> None:
    """One unit each: workers (a template, one instance per worker), the scheduler and the review app."""
    assert ["vhub-review.service", "vhub-scheduler.service", "vhub-worker@.service"] == [path.name for path in UNITS]


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_each_unit_runs_a_vhub_command_the_cli_accepts_as_the_service_account(path: Path) -> None:
    """ExecStart is `vhub ...` from the checkout's virtual environment, with arguments the CLI parses; it runs as
    vhub with private files, its settings from /etc/vhub/vhub.env, restarted when it stops."""
    service = unit(path)["Service"]
    program, *arguments = shlex.split(service["ExecStart"])
    assert program == "/opt/vhub/.venv/bin/vhub"
    build_parser().parse_args(arguments)  # exits (fails the test) on anything the CLI does not accept
    assert ("vhub", "0077", "always", "/etc/vhub/vhub.env") == (
        service["User"],
        service["UMask"],
        service["Restart"],
        service["EnvironmentFile"],
    )


def test_the_worker_stops_warm_and_is_given_longer_than_a_job_may_take_to_finish() -> None:
    """SIGTERM to the worker alone (its browser is left to it) and more than the 300 s `vhub up` allows."""
    service = unit(DEPLOY / "systemd" / "vhub-worker@.service")["Service"]
    assert ("mixed", "SIGTERM") == (service["KillMode"], service["KillSignal"])
    assert int(service["TimeoutStopSec"]) > Settings().worker_stop_timeout_s


def test_the_settings_file_names_only_real_settings_and_keeps_evidence_in_the_store() -> None:
    """Every VHUB_ variable of deploy/vhub.env.example is a setting (a typo would be silently ignored), and
    evidence is kept in the store, where the review app on any host finds it."""
    values = dict(
        line.split("=", 1)
        for line in (DEPLOY / "vhub.env.example").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    names = list(values)
    parts = set(ExternalSystem.model_fields)
    unknown = []
    for name in names:
        path = name.removeprefix("VHUB_").lower().split("__")
        known = (
            (len(path) == 1 and path[0] in Settings.model_fields)
            or (len(path) == 2 and path[0] in OWN_SETTINGS and path[1] in parts)
            or (len(path) == 3 and path[0] == "portals" and path[2] in parts)
        )
        if not known or not name.startswith("VHUB_"):
            unknown.append(name)
    assert ([], "database") == (unknown, values["VHUB_EVIDENCE_STORE"])
