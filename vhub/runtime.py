"""The embedded stack: redis-server, rq workers (and, on request, the simulated systems), started and stopped
together.

Every process is a child in its own process group that dies with its parent (PR_SET_PDEATHSIG), so
Ctrl-C, SIGTERM or a crash of `vhub up` leaves no orphans. The stack's state (pids, ports, URLs) is
written to run/stack.json in the data folder; a stale state from a crashed run is cleaned on start, and the
jobs its workers held are queued again. A worker stops warm: it finishes its job, then closes its browser.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import httpx
from pydantic import SecretStr
from redis import Redis
from redis.exceptions import RedisError

from vhub import context
from vhub.errors import ConfigurationError
from vhub.logs import get_logger
from vhub.portals import external_systems, require_configured
from vhub.queues import Jobs, QueuePolicy, connect
from vhub.settings import (
    ALERT_CHANNELS,
    OWN_SETTINGS,
    PROJECT_ROOT,
    ExternalSystem,
    Settings,
    env_name,
    redis_server_binary,
)

log = get_logger(__name__)

REDIS_CONF = PROJECT_ROOT / "queue" / "redis.conf"
STATE_FILE = "stack.json"
SIMULATED_WEBHOOK = "webhook_sink"
"""The simulated system that stands in for Microsoft Teams: in simulated mode every alert channel posts to it."""
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGTERM it when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_on_signals() -> None:
    """Turn SIGTERM into SystemExit and Ctrl-C (SIGINT) into KeyboardInterrupt, so `with Stack(...)` blocks stop
    their children on the way out. SIGINT is set even when this process was started with it ignored (a background
    job of a script, a test runner's worker), which Python otherwise keeps: Ctrl-C must always stop a stack."""

    def _raise(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pid_alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _stat(pid)[:1] != ["Z"]


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group still runs."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[0] != "Z" and fields[2] == str(pgid):
            return True
    return False


def _stat(pid: int) -> list[str]:
    """State, parent, process group... of a process, from /proc (empty if it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class Child:
    """One process of the stack."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: TextIO | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # safe: the stack starts its children before any thread
            cwd=os.getcwd(),
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def signal(self, signum: int) -> None:
        """Signal the whole process group: the process and whatever it started (a browser's driver)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the process group and wait until none of it runs: nothing it started goes on working."""
        self.signal(signal.SIGKILL)
        self.wait(timeout)
        deadline = time.monotonic() + timeout
        while self.process is not None and group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def signal_leader(self, signum: int) -> None:
        """Signal the process alone, so it can end its own work in its own order."""
        if self.running():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signum)

    def wait(self, timeout: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Simulated(Protocol):
    """Simulated external systems a stack can start (vhub/simulated/ has the one implementation)."""

    def start(self, stack: Stack) -> dict[str, ExternalSystem]: ...


class Stack:
    """redis-server (unless VHUB_REDIS_URL is set), N rq workers and optionally the scheduler and the review
    app, each a child process; the simulated systems too, but only when ``simulators`` are given.

    Live (no simulators): start-up stops unless every external system has its URL and account. Simulated:
    start-up stops if any external system is configured, so a real URL is never mixed with simulated ones.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        workers: int | None = None,
        simulators: Simulated | None = None,
        scheduler: bool = False,
        review: bool = False,
    ) -> None:
        self.settings = settings.model_copy(update={"mode": "simulated" if simulators else "live"})
        self.worker_count = settings.workers if workers is None else workers
        self.simulators = simulators
        self.scheduler = scheduler
        self.review = review
        self.review_url = ""
        self.children: list[Child] = []
        self.redis_url = settings.redis_url
        self.systems: dict[str, ExternalSystem] = {}  # the simulated systems, once started
        self.alert_webhooks: dict[str, str] = {}  # simulated: each alert channel's setting -> the sink's URL
        self._started: list[str] = []  # each worker start, by the worker's name in the stack
        self.state_path = settings.run_dir / STATE_FILE
        self._stale_workers: list[str] = []  # rq names of the workers a crashed run left

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> Stack:
        self._check_mode()
        self.settings.ensure_dirs()  # and from here on, every file the stack writes is private
        self.clear_stale()
        try:
            if not self.redis_url:
                self._start_redis()
            if self._stale_workers:
                reclaimed = self.reclaim(self._stale_workers)
                log.warning("queued again what the last run's workers held", jobs=len(reclaimed))
            if self.simulators is not None:
                self.systems = self.simulators.start(self)
                if sink := self.systems.pop(SIMULATED_WEBHOOK, None):
                    self.alert_webhooks = simulated_webhooks(sink.url)
                if unsimulated := [name for name in external_systems() if name not in self.systems]:
                    raise ConfigurationError(
                        f"config/portals.toml routes drafts to {', '.join(unsimulated)}, which has no simulated "
                        "system: simulated mode cannot send them anywhere. Run live, or add a simulated portal.",
                        code="not_simulated",
                    )
            self._write_state()
            for number in range(1, self.worker_count + 1):
                self.start_child(f"worker-{number}", self._worker_argv(f"worker-{number}"))
            if self.scheduler:
                self.start_child("scheduler", [sys.executable, "-m", "vhub", "scheduler"])
            if self.review:
                self._start_review()
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_mode(self) -> None:
        if self.simulators is None:
            require_configured(self.settings)
            return
        configured = [env_name(name, "url") for name in external_systems() if self.settings.external(name).url]
        configured += [f"VHUB_{name.upper()}" for name in ALERT_CHANNELS.values() if self.settings.alert_url(name)]
        if configured:
            raise ConfigurationError(
                f"Simulated mode starts every external system itself, but {', '.join(configured)} "
                "is set: unset it to rehearse on the simulated systems (`vhub demo`, `vhub up --simulate`), "
                "or run live.",
                code="mixed_mode",
            )

    @property
    def records_url(self) -> str:
        return self.resolved().records_system.url

    @property
    def isr_url(self) -> str:
        return self.resolved().isr_portal.url

    @property
    def webhook_sink_url(self) -> str:
        """The simulated Teams webhook's address (empty when live)."""
        url = self.alert_webhooks.get("alert_webhook_url", "")
        return url.rsplit("/webhook/", 1)[0] if url else ""

    @property
    def urls(self) -> dict[str, str]:
        """Each simulated system's URL, by name (empty when live)."""
        return {name: system.url for name, system in self.systems.items()}

    def resolved(self) -> Settings:
        """The settings with this stack's Redis and simulated systems filled in."""
        webhooks = {name: SecretStr(url) for name, url in self.alert_webhooks.items()}
        settings = self.settings.model_copy(update={"redis_url": self.redis_url, **webhooks})
        return with_systems(settings, self.systems)

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["VHUB_DATA_DIR"] = str(self.settings.data_path)
        env["VHUB_REDIS_URL"] = self.redis_url
        env["VHUB_MODE"] = self.settings.mode
        # The review app and the submission job must agree on how many approvals a red draft needs.
        env["VHUB_REVIEW_SECOND_APPROVER_FOR_RED"] = str(self.settings.review_second_approver_for_red).lower()
        settings = self.resolved()  # children use exactly the systems this stack was checked with
        for name in dict.fromkeys([*external_systems(), *self.systems]):
            system = settings.external(name)
            env[env_name(name, "url")] = system.url
            env[env_name(name, "username")] = system.username
            env[env_name(name, "password")] = system.password.get_secret_value()
        for name, url in self.alert_webhooks.items():
            env[f"VHUB_{name.upper()}"] = url
        env["VHUB_QUEUE_CONFIG"] = str(self.settings.queue_config)  # the stack's queue policy, not the default
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start_child(self, name: str, argv: Sequence[str]) -> Child:
        """Start one process of the stack (stopped with it)."""
        child = Child(name, list(argv), self.child_env(), self.settings.log_dir / f"{name}.out")
        child.start()
        self.children.append(child)
        log.info("started", component=name, pid=child.pid)
        return child

    def restart(self, child: Child) -> Child:
        """Start a stopped process of the stack again, in its place (a worker under a new rq name)."""
        argv = self._worker_argv(child.name) if worker_name(child) else child.argv
        child.close_log()
        self.children.remove(child)
        again = self.start_child(child.name, argv)
        self._write_state()
        return again

    def _worker_argv(self, name: str) -> list[str]:
        # rq refuses a second live worker of one name: each start of worker-N is named afresh.
        starts = sum(1 for line in self._started if line == name)
        self._started.append(name)
        number = name.removeprefix("worker-")
        suffix = f".{starts + 1}" if starts else ""
        rq_name = f"{socket.gethostname()}.vhub-{os.getpid()}-{number}{suffix}"
        return [sys.executable, "-m", "vhub", "worker", "--name", rq_name]

    def reclaim(self, worker_names: Sequence[str]) -> list[str]:
        """Queue again the jobs these workers held (their processes are gone) and free their session slots."""
        # rq calls a job's failure callback as it gives the job up: the tasks it calls use this stack.
        if context.current().settings.redis_url != self.redis_url:
            context.configure(self.resolved())
        with connect(self.redis_url) as connection:
            jobs = Jobs(connection, QueuePolicy.load(self.settings.queue_config))
            return jobs.reclaim(worker_names, alive=pid_alive)

    def _start_redis(self) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise ConfigurationError(
                "redis-server is not installed. Install it (`sudo apt-get install -y redis-server`) "
                "or point VHUB_REDIS_URL at a running Redis."
            )
        port = self.settings.redis_port or free_port()
        if self.settings.redis_port and port_in_use(port):
            raise ConfigurationError(
                f"Port {port} (VHUB_REDIS_PORT) is in use by another program. Stop it, or set VHUB_REDIS_PORT=0 "
                "to let vhub pick a free port."
            )
        redis_dir = self.settings.data_path / "redis"
        redis_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        password = redis_password(self.settings)
        config = self.settings.run_dir / "redis.conf"
        # The password goes in a private file, not on the command line where `ps` would show it.
        config.write_text(
            f"include {_quoted(REDIS_CONF)}\nport {port}\ndir {_quoted(redis_dir)}\n"
            f"pidfile {_quoted(self.settings.run_dir / 'redis.pid')}\nrequirepass {password}\n",
            encoding="utf-8",
        )
        config.chmod(0o600)
        child = self.start_child("redis", [binary, str(config)])
        self.redis_url = f"redis://:{password}@127.0.0.1:{port}/0"
        with Redis.from_url(self.redis_url) as client:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if not child.running():
                    raise ConfigurationError(f"redis-server stopped at start-up. Its log says:\n{child.tail()}")
                try:
                    client.ping()
                    return
                except RedisError:
                    time.sleep(0.05)
        raise ConfigurationError(f"redis-server did not answer within 20 s. Its log says:\n{child.tail()}")

    def _start_review(self) -> None:
        port = self.settings.review_port or free_port()
        if port_in_use(port):
            raise ConfigurationError(
                f"Port {port} (VHUB_REVIEW_PORT) is in use by another program. Stop it, or set VHUB_REVIEW_PORT "
                "to another port (0 = any free port)."
            )
        child = self.start_child("review", [sys.executable, "-m", "vhub", "review", "serve", "--port", str(port)])
        self.review_url = f"http://{self.settings.review_host}:{port}"
        wait_for_http(f"{self.review_url}/healthz", child)

    def stop(self, timeout: float = 20.0) -> None:
        """Workers first, warm: each is asked alone (not its browser) to stop, finishes the job it is running,
        then closes its browser; one still busy after ``worker_stop_timeout_s`` is killed and its job queued
        again. Then the simulated systems, then Redis, each given ``timeout`` seconds."""
        workers = [c for c in self.children if c.name.startswith(("worker", "scheduler", "review"))]
        for child in workers:
            child.signal_leader(signal.SIGTERM)
        killed = self._wait_or_kill(workers, self.settings.worker_stop_timeout_s)
        if names := [name for child in killed if (name := worker_name(child))]:
            try:
                reclaimed = self.reclaim(names)
                log.warning("queued again the jobs of workers killed while stopping", jobs=len(reclaimed))
            except RedisError as error:
                log.error("could not queue again the jobs of killed workers", error=type(error).__name__)
        for group in (
            [c for c in self.children if c.name == "fixtures"],
            [c for c in self.children if c.name == "redis"],
        ):
            for child in group:
                child.signal(signal.SIGTERM)
            self._wait_or_kill(group, timeout)
        for child in self.children:
            child.signal(signal.SIGKILL)  # what a stopped process left in its group
            child.close_log()
        self.children.clear()
        with contextlib.suppress(FileNotFoundError):
            self.state_path.unlink()

    @staticmethod
    def _wait_or_kill(group: list[Child], timeout: float) -> list[Child]:
        """Wait for the group to stop; kill (with its process group) each one still running at the deadline."""
        killed = []
        deadline = time.monotonic() + timeout
        for child in group:
            if not child.wait(max(0.1, deadline - time.monotonic())):
                log.warning("did not stop in time; killing", component=child.name, pid=child.pid)
                child.kill()
                killed.append(child)
        return killed

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- state
    def _write_state(self) -> None:
        state = {
            "owner_pid": os.getpid(),
            "owner_cmdline": _cmdline(os.getpid()),
            "redis_url": self.redis_url,
            "mode": self.settings.mode,
            "systems": {
                name: {**system.model_dump(), "password": system.password.get_secret_value()}
                for name, system in self.systems.items()
            },
            "review_url": self.review_url,
            "alert_webhooks": self.alert_webhooks,
            "children": [{"name": c.name, "pid": c.pid, "cmdline": " ".join(c.argv)} for c in self.children],
        }
        self.state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")

    def clear_stale(self) -> None:
        """Stop what a crashed run left behind; refuse to start beside a live run on the same data folder."""
        state = read_state(self.settings)
        if state is None:
            return
        owner = int(state.get("owner_pid", 0))
        if owner and owner != os.getpid() and pid_alive(owner) and _cmdline(owner) == state.get("owner_cmdline"):
            raise ConfigurationError(
                f"vhub is already running on the data folder {self.settings.data_path} (pid {owner}). "
                f"Stop it with Ctrl-C in its terminal or `kill {owner}`, or set VHUB_DATA_DIR to another folder."
            )
        for child in state.get("children", []):
            if name := _named(str(child.get("cmdline", ""))):
                self._stale_workers.append(name)
            pid = int(child.get("pid") or 0)
            if pid and pid_alive(pid) and _cmdline(pid).strip() == str(child.get("cmdline", "")).strip():
                log.warning("stopping a process left by a crashed run", component=child.get("name"), pid=pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid)
        pidfile = self.settings.run_dir / "redis.pid"
        if pidfile.exists():
            with contextlib.suppress(ValueError):
                pid = int(pidfile.read_text().strip())
                if pid_alive(pid) and "redis-server" in _cmdline(pid):
                    os.kill(pid, signal.SIGKILL)
                    _wait_gone(pid)
            pidfile.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)


def worker_name(child: Child) -> str | None:
    """The rq name of a worker of the stack (None for other processes)."""
    return _named(" ".join(child.argv)) if child.name.startswith("worker") else None


def _named(cmdline: str) -> str | None:
    words = cmdline.split()
    if "worker" not in words or "--name" not in words[:-1]:
        return None
    return words[words.index("--name") + 1]


def redis_password(settings: Settings) -> str:
    """The embedded redis-server's password: generated once, kept in the data folder, readable by vhub alone."""
    path = settings.data_path / "redis" / "password"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
    path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _quoted(path: Path) -> str:
    """A path as redis.conf reads a quoted string."""
    return json.dumps(str(path))


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)


def wait_for_http(url: str, child: Child | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.running():
            raise ConfigurationError(f"{child.name} stopped at start-up. Its log says:\n{child.tail()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ConfigurationError(f"{url} did not answer within {timeout:.0f} s.")


def wait_for_ports_file(path: Path, child: Child, timeout: float = 30.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running():
            raise ConfigurationError(f"{child.name} stopped at start-up. Its log says:\n{child.tail()}")
        if path.exists():
            return dict(json.loads(path.read_text(encoding="utf-8")))
        time.sleep(0.05)
    raise ConfigurationError(f"{child.name} did not start within {timeout:.0f} s. Its log says:\n{child.tail()}")


def read_state(settings: Settings) -> dict[str, Any] | None:
    path = settings.run_dir / STATE_FILE
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def resolve(settings: Settings) -> Settings:
    """Fill in the embedded Redis from a running stack on this data folder, and, if that stack is simulated,
    its simulated systems (replacing any configured ones: a simulated stack never talks to a real system)."""
    state = read_state(settings)
    if state is None:
        return settings
    updates: dict[str, Any] = {}
    if not settings.redis_url and state.get("redis_url"):
        updates["redis_url"] = state["redis_url"]
    resolved = settings.model_copy(update=updates) if updates else settings
    if state.get("mode") != "simulated":
        return resolved
    systems = {name: ExternalSystem.model_validate(value) for name, value in (state.get("systems") or {}).items()}
    webhooks = {
        name: SecretStr(str(url))
        for name, url in (state.get("alert_webhooks") or {}).items()
        if name in ALERT_CHANNELS.values()
    }
    return with_systems(resolved.model_copy(update=webhooks), systems)


def simulated_webhooks(sink_url: str) -> dict[str, str]:
    """Each alert channel's setting pointed at its own path on the simulated Teams webhook."""
    return {name: f"{sink_url}/webhook/{channel}" for channel, name in ALERT_CHANNELS.items()}


def with_systems(settings: Settings, systems: dict[str, ExternalSystem]) -> Settings:
    """The settings of a simulated stack: these systems in place of the configured ones, and the mode."""
    if not systems:
        return settings
    updates: dict[str, Any] = {"mode": "simulated"}
    portals = dict(settings.portals)
    for name, system in systems.items():
        if name in OWN_SETTINGS:
            updates[name] = system
        else:
            portals[name] = system
    updates["portals"] = portals
    return settings.model_copy(update=updates)
