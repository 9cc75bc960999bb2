"""`vhub status` and the commands that need the stack: found from any folder, or a plain refusal that creates
nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def vhub(*args: str, cwd: Path, home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`vhub` run by a person in ``cwd`` with no VHUB_DATA_DIR set."""
    environment = {"HOME": str(home), "PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "vhub", *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=120
    )


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(home, the folder a person runs commands in, the stack's data folder)."""
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    return home, elsewhere, tmp_path / "data"


def test_status_with_nothing_running_says_so_and_creates_nothing(folders: tuple[Path, Path, Path]) -> None:
    """Without VHUB_DATA_DIR and no stack running, status refuses in one line and creates no folder or database."""
    home, elsewhere, _ = folders
    result = vhub("status", cwd=elsewhere, home=home)
    assert (2, "") == (result.returncode, result.stdout)
    assert result.stderr.startswith(f"vhub: No running stack found: none on the data folder here ({elsewhere / 'var'})")
    assert ([], []) == (list(elsewhere.iterdir()), [path.name for path in home.rglob("*")])


def start_up(data: Path, home: Path, *, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    """`vhub up --simulate` on ``data``, started as an operator would, once it says it is running. With
    ``sigint_ignored``, as a background job of a script starts it: with Ctrl-C's signal ignored."""
    environment = {
        **os.environ,
        "HOME": str(home),
        "VHUB_DATA_DIR": str(data),
        "VHUB_REVIEW_PORT": "0",
        "PYTHONUNBUFFERED": "1",
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "vhub", "up", "--simulate", "--workers", "1", "--no-scheduler"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None,
    )
    assert up.stdout is not None
    deadline, seen = time.monotonic() + 120, []
    while time.monotonic() < deadline and up.poll() is None:
        line = up.stdout.readline()
        seen.append(line)
        if line.startswith("Running."):
            return up
    up.kill()
    up.wait(10)
    up.stdout.close()
    pytest.fail("`vhub up --simulate` did not start:\n" + "".join(seen))


@pytest.fixture
def stack(folders: tuple[Path, Path, Path]) -> Iterator[subprocess.Popen[str]]:
    """`vhub up --simulate` on its data folder, started as an operator would, stopped with Ctrl-C."""
    home, _, data = folders
    up = start_up(data, home)
    yield up
    if up.poll() is None:
        up.send_signal(signal.SIGINT)
        up.wait(60)
    assert up.stdout is not None
    up.stdout.close()


@pytest.mark.integration
@pytest.mark.slow
def test_ctrl_c_stops_the_stack_even_when_started_with_it_ignored(folders: tuple[Path, Path, Path]) -> None:
    """Started where SIGINT is ignored (a background job of a script, a test runner's worker), Ctrl-C still stops
    `vhub up` and everything it started; before, it was ignored until something killed the stack."""
    home, _, data = folders
    up = start_up(data, home, sigint_ignored=True)
    assert up.stdout is not None
    try:
        up.send_signal(signal.SIGINT)
        assert 0 == up.wait(60)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
        up.stdout.close()
    assert [] == list((home / ".local" / "state" / "vhub" / "stacks").iterdir())


@pytest.mark.integration
@pytest.mark.slow
def test_status_finds_the_running_stack_from_any_folder(
    folders: tuple[Path, Path, Path], stack: subprocess.Popen[str]
) -> None:
    """With no data folder set, status and failed-job commands find the stack `vhub up` runs and say which data
    folder it is; once it stops, status says none is running."""
    home, elsewhere, data = folders
    status = vhub("status", cwd=elsewhere, home=home)
    failed = vhub("failed", "list", cwd=elsewhere, home=home)
    assert (0, f"Data folder: {data} (the running stack; VHUB_DATA_DIR is not set)") == (
        status.returncode,
        status.stdout.splitlines()[0],
    )
    assert "Workers: 1" in status.stdout and "Incidents stored: 0" in status.stdout
    assert (0, "No failed jobs.\n") == (failed.returncode, failed.stdout)
    stack.send_signal(signal.SIGINT)
    stack.wait(60)
    after = vhub("status", cwd=elsewhere, home=home)
    assert (2, True) == (after.returncode, after.stderr.startswith("vhub: No running stack found"))
    assert [] == list(elsewhere.iterdir())
    assert [] == list((home / ".local" / "state" / "vhub" / "stacks").iterdir())
