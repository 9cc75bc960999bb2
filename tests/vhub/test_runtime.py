"""The embedded stack: real redis-server and workers started, stopped without orphans, stale state cleared."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis import Redis
from redis.exceptions import AuthenticationError
from rq import Worker
from rq.job import JobStatus
from rq.rate_limit import RateLimitRegistry

from vhub.errors import ConfigurationError
from vhub.portals import external_systems, portal_names
from vhub.queues import Jobs
from vhub.runtime import Stack, free_port, pid_alive, read_state
from vhub.settings import ExternalSystem, Settings, env_name
from vhub.simulated import Simulators
from vhub.worker import VhubWorker

pytestmark = pytest.mark.integration

REWRITING = ("aof_rewrite_in_progress", "aof_rewrite_scheduled")
"""Redis's flags for a rewrite of its append-only file under way or waiting for a save to end."""
LIVE = ExternalSystem(url="http://127.0.0.1:9", username="vhub.bot", password=SecretStr("configured-for-the-test"))
"""A configured system (nothing listens there): enough for a live stack to start."""


def live_environment(leave_out: str = "") -> dict[str, str]:
    """The environment that configures every external system as LIVE, except the variable ``leave_out``."""
    env = {
        env_name(name, part): value
        for name in external_systems()
        for part, value in (("url", LIVE.url), ("username", LIVE.username), ("password", "configured-for-the-test"))
    }
    env.pop(leave_out, None)
    return env


def wait_until(condition, timeout: float = 20.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def stack_settings(tmp_path: Path) -> Settings:
    portals = {name: LIVE for name in portal_names()}
    return Settings(data_dir=tmp_path / "var", records_system=LIVE, isr_portal=LIVE, portals=portals)


def test_stack_starts_redis_and_workers_and_stops_them_all(stack_settings: Settings) -> None:
    """Redis answers, both workers register with rq, and stopping leaves no process and no state file."""
    with Stack(stack_settings, workers=2) as stack, Redis.from_url(stack.redis_url) as connection:
        assert connection.ping()
        assert wait_until(lambda: len(Worker.all(connection=connection)) == 2)
        assert "yes" == connection.config_get("appendonly")["appendonly"]
        pids = [child.pid for child in stack.children]
        assert stack_settings.run_dir.joinpath("stack.json").exists()
    assert wait_until(lambda: not any(pid_alive(pid) for pid in pids), 5)
    assert not stack_settings.run_dir.joinpath("stack.json").exists()


def test_sigterm_to_vhub_up_stops_every_child(stack_settings: Settings) -> None:
    """`vhub up` given SIGTERM stops Redis, the worker, the scheduler and the review app it started: no orphans."""
    env = {
        **os.environ,
        "VHUB_DATA_DIR": str(stack_settings.data_path),
        "VHUB_REVIEW_PORT": "0",
        **live_environment(),
    }
    argv = [sys.executable, "-m", "vhub", "up", "--workers", "1"]
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as up:
        try:
            assert wait_until(lambda: len((read_state(stack_settings) or {}).get("children", [])) == 4)
            pids = [child["pid"] for child in read_state(stack_settings)["children"]]
            assert all(pid_alive(pid) for pid in pids)
            up.send_signal(signal.SIGTERM)
            assert 0 != up.wait(30)
        finally:
            up.kill()
    assert wait_until(lambda: not any(pid_alive(pid) for pid in pids), 5)


def test_leftovers_of_a_crashed_run_are_stopped(stack_settings: Settings, tmp_path: Path) -> None:
    """A redis-server left by a run whose owner died is stopped before the new stack starts."""
    stack_settings.ensure_dirs()
    argv = ["redis-server", "--port", str(free_port()), "--save", "", "--dir", str(tmp_path)]
    leftover = subprocess.Popen(argv, stdout=subprocess.DEVNULL)  # noqa: S603
    assert wait_until(lambda: Path(f"/proc/{leftover.pid}/cmdline").exists())
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait()
    state = {
        "owner_pid": dead_owner.pid,
        "owner_cmdline": "vhub up",
        "redis_url": "",
        "records_url": "",
        "children": [{"name": "redis", "pid": leftover.pid, "cmdline": " ".join(argv)}],
    }
    stack_settings.run_dir.joinpath("stack.json").write_text(json.dumps(state))
    try:
        with Stack(stack_settings, workers=0) as stack, Redis.from_url(stack.redis_url) as connection:
            assert leftover.wait(10) is not None
            assert connection.ping()
    finally:
        leftover.kill()


def test_a_live_run_on_the_same_data_folder_is_refused(stack_settings: Settings) -> None:
    """Two stacks on one data folder would share Redis files: the second is refused with what to do."""
    with Stack(stack_settings, workers=0):
        state = read_state(stack_settings)
        state["owner_pid"] = os.getppid()
        state["owner_cmdline"] = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        stack_settings.run_dir.joinpath("stack.json").write_text(json.dumps(state))
        with pytest.raises(ConfigurationError, match="already running"):
            Stack(stack_settings, workers=0).start()


def test_a_configured_port_in_use_is_named(stack_settings: Settings, redis_url: str) -> None:
    """VHUB_REDIS_PORT pointing at a busy port fails with the port and the fix."""
    busy = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(ConfigurationError, match=f"Port {busy}"):
        Stack(stack_settings.model_copy(update={"redis_port": busy}), workers=0).start()


def test_live_start_up_names_every_missing_setting(tmp_path: Path) -> None:
    """Live with nothing configured: start-up stops before starting anything, naming each URL, username and password."""
    settings = Settings(data_dir=tmp_path / "var")
    with pytest.raises(ConfigurationError) as refused:
        Stack(settings, workers=1).start()
    for name in external_systems():
        for part in ("url", "username", "password"):
            assert env_name(name, part) in refused.value.message
    assert not settings.run_dir.joinpath("stack.json").exists()


def test_one_portal_without_a_url_stops_a_live_start(stack_settings: Settings) -> None:
    """Every portal configured but the MARAC portal's URL: no stack starts (nothing would be sent to a simulator)."""
    portals = {**stack_settings.portals, "marac_portal": LIVE.model_copy(update={"url": ""})}
    with pytest.raises(ConfigurationError) as refused:
        Stack(stack_settings.model_copy(update={"portals": portals}), workers=0).start()
    assert "(live mode): VHUB_PORTALS__MARAC_PORTAL__URL. " in refused.value.message


@pytest.mark.parametrize("command", [["up", "--workers", "1"], ["worker", "--burst"], ["scheduler"]])
def test_live_commands_refuse_an_unconfigured_system(tmp_path: Path, command: list[str]) -> None:
    """`vhub up`, `vhub worker` and `vhub scheduler` exit non-zero naming the missing setting, and start nothing."""
    env = {
        "PATH": os.environ["PATH"],
        "VHUB_DATA_DIR": str(tmp_path / "var"),
        "VHUB_REVIEW_PORT": "0",
        **live_environment(leave_out="VHUB_PORTALS__MARAC_PORTAL__PASSWORD"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "vhub", *command], env=env, capture_output=True, text=True, timeout=60
    )
    assert 0 != result.returncode
    assert "VHUB_PORTALS__MARAC_PORTAL__PASSWORD" in result.stderr
    assert not (tmp_path / "var" / "run" / "stack.json").exists()


def test_simulated_mode_refuses_a_configured_system(stack_settings: Settings) -> None:
    """Asked to simulate while a real URL is configured, the stack stops: real and simulated are never mixed."""
    with pytest.raises(ConfigurationError, match="VHUB_RECORDS_SYSTEM__URL") as refused:
        Stack(stack_settings, workers=0, simulators=Simulators(incidents=1)).start()
    assert "mixed_mode" == refused.value.code


def test_the_embedded_redis_needs_its_generated_password_and_its_files_are_private(stack_settings: Settings) -> None:
    """Without the password Redis refuses; the password, Redis's files and the stack's state are the service's alone."""
    with Stack(stack_settings, workers=0) as stack:
        host_and_port = stack.redis_url.rsplit("@", 1)[1]
        with Redis.from_url(f"redis://{host_and_port}") as anonymous, pytest.raises(AuthenticationError):
            anonymous.ping()
        with Redis.from_url(stack.redis_url) as connection:
            assert connection.ping()
            connection.set("probe", "1")
            connection.bgrewriteaof()
            # its files are listed once the rewrite is over: its temporary file goes when it ends
            assert wait_until(lambda: not any(int(connection.info("persistence")[flag]) for flag in REWRITING))
        password = stack_settings.data_path / "redis" / "password"
        assert password.read_text() in stack.redis_url
        assert password.read_text() not in " ".join(" ".join(child.argv) for child in stack.children)
        private_files = [password, stack_settings.run_dir / "stack.json", stack_settings.run_dir / "redis.conf"]
        append_only_files = list((stack_settings.data_path / "redis").rglob("*.aof"))
        assert append_only_files
        private_files += append_only_files
        folders = [stack_settings.data_path, stack_settings.run_dir, stack_settings.log_dir, password.parent]
        assert {0o600} == {path.stat().st_mode & 0o777 for path in private_files}
        assert {0o700} == {path.stat().st_mode & 0o777 for path in folders}


def test_a_fresh_data_folder_made_by_the_cli_is_private(tmp_path: Path) -> None:
    """`vhub db upgrade` on a new data folder: the folder is 0700 and the database file 0600."""
    data = tmp_path / "var"
    env = {"PATH": os.environ["PATH"], "VHUB_DATA_DIR": str(data)}
    result = subprocess.run(
        [sys.executable, "-m", "vhub", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert 0 == result.returncode, result.stderr
    assert (0o700, 0o600) == (data.stat().st_mode & 0o777, (data / "vhub.db").stat().st_mode & 0o777)


def test_a_new_start_queues_again_what_the_crashed_runs_workers_held(
    stack_settings: Settings, redis_url: str, redis_client: Redis
) -> None:
    """A run that died with a worker mid-job: the next start gives the job back to its queue, frees its session
    slot and drops the dead worker from rq's list, without waiting for its heartbeat to run out."""
    jobs = Jobs(redis_client)
    held = jobs.enqueue("ingest", "tasks.ingest.ingest", "run")
    dead = VhubWorker(jobs.queues(), connection=redis_client, name="h.vhub-9-1")
    dead.register_birth()
    job, _queue = dead.dequeue_job_and_maintain_ttl(timeout=1)
    dead.prepare_execution(job)
    dead.prepare_job_execution(job)
    gone = subprocess.Popen(["true"])
    gone.wait()
    stack_settings.ensure_dirs()
    worker = {"name": "worker-1", "pid": gone.pid, "cmdline": f"{sys.executable} -m vhub worker --name {dead.name}"}
    state = {"owner_pid": gone.pid, "owner_cmdline": "vhub up", "redis_url": redis_url, "children": [worker]}
    stack_settings.run_dir.joinpath("stack.json").write_text(json.dumps(state))
    with Stack(stack_settings.model_copy(update={"redis_url": redis_url}), workers=0):
        assert JobStatus.SCHEDULED == held.get_status()  # its retry, after the policy's first wait
        assert [] == RateLimitRegistry("records_system", redis_client).get_allowed_job_ids()
        assert [] == Worker.all(connection=redis_client)


def test_vhub_up_restarts_a_killed_worker_and_keeps_the_rest(stack_settings: Settings) -> None:
    """kill -9 of a worker of `vhub up`: it is started again; Redis, the review app and the other worker keep
    their processes, and `vhub up` keeps running until it is stopped."""
    env = {**os.environ, "VHUB_DATA_DIR": str(stack_settings.data_path), "VHUB_REVIEW_PORT": "0", **live_environment()}
    argv = [sys.executable, "-m", "vhub", "up", "--workers", "2", "--no-scheduler"]

    def pids() -> dict[str, int]:
        return {child["name"]: child["pid"] for child in (read_state(stack_settings) or {}).get("children", [])}

    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as up:
        try:
            assert wait_until(lambda: len(pids()) == 4, 60)
            before = pids()
            os.killpg(before["worker-1"], signal.SIGKILL)
            assert wait_until(lambda: pids().get("worker-1") not in (None, before["worker-1"]), 30)
            after = pids()
            assert pid_alive(after["worker-1"]) and up.poll() is None
            assert {k: v for k, v in before.items() if k != "worker-1"} == {
                k: v for k, v in after.items() if k != "worker-1"
            }
            up.send_signal(signal.SIGTERM)
            up.wait(60)
        finally:
            up.kill()
    assert wait_until(lambda: not any(pid_alive(pid) for pid in after.values()), 10)
