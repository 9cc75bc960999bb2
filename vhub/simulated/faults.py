"""The faults `vhub faults run` injects into a running simulated stack, each on a thread of its own.

Each fault runs until its ``stop`` event is set (a fault that lasts a while: errors, latency, expiring sessions,
lost confirmations) or until its own events are done (kills, restarts, a locked store, an outage), and counts the
times it struck. The simulated systems are told through their /_admin endpoints; processes are killed with
SIGKILL, as a crash or the out-of-memory killer would.
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker import Worker
from sqlalchemy import select

from vhub.context import AppContext
from vhub.queues import SERIALIZER
from vhub.runtime import Child, Stack, worker_name
from vhub.store.tables import SubmissionRow

SUBMIT = "tasks.submit.submit_draft"
INGEST = "tasks.ingest.ingest"
CLEAR = {
    "error_rate": 0.0,
    "latency_ms": 0.0,
    "confirmation_failure_rate": 0.0,
    "confirmation_delay_ms": 0.0,
}
"""Every fault setting a fault sets, at rest."""


class Target(Protocol):
    """What a fault acts on: the running stack, its context, and the lock the supervisor checks under."""

    stack: Stack
    ctx: AppContext
    lock: threading.RLock

    def systems(self) -> dict[str, str]: ...

    def work_flowing(self) -> bool: ...

    def sending(self) -> bool:
        """A submission is queued or being made."""

    def in_keeper(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the thread that keeps the stack (the supervisor's): a process started on a thread
        that then ends would be stopped with it (PR_SET_PDEATHSIG follows the starting thread)."""


def admin(url: str, method: str, path: str, payload: Any = None) -> Any:
    response = httpx.request(method, f"{url}/_admin/{path}", json=payload, timeout=10)
    response.raise_for_status()
    return response.json()


def set_faults(urls: dict[str, str], **values: float) -> None:
    for url in urls.values():
        admin(url, "POST", "faults", values)


def stat(urls: dict[str, str], name: str) -> int:
    return sum(int(admin(url, "GET", "stats")[name]) for url in urls.values())


def portals(target: Target) -> dict[str, str]:
    """The systems that take submissions (all but the records system)."""
    return {name: url for name, url in target.systems().items() if name != "records_system"}


class Fault(ABC):
    """One kind of fault. ``run`` blocks until it is over; ``injected`` counts the times it struck. A ``lasting``
    fault is on until ``stop`` (its window is over, or nothing is left to hit); any other ends after its own
    events, or at ``stop`` once nothing is left to hit."""

    name = ""
    lasting = False

    def __init__(self) -> None:
        self.injected = 0
        self.notes: list[str] = []

    @abstractmethod
    def run(self, target: Target, stop: threading.Event) -> None: ...


class ServerErrors(Fault):
    """A share of every request to every system answered 503."""

    name = "20% 5xx from every system"
    lasting = True

    def __init__(self, rate: float = 0.2) -> None:
        super().__init__()
        self.rate = rate

    def run(self, target: Target, stop: threading.Event) -> None:
        urls = target.systems()
        before = stat(urls, "errors_injected") - stat(portals(target), "confirmations_lost")
        set_faults(urls, error_rate=self.rate)
        stop.wait()
        set_faults(urls, error_rate=0.0)
        self.injected = stat(urls, "errors_injected") - stat(portals(target), "confirmations_lost") - before


class LatencySpikes(Fault):
    """Every system slow for ``spike_s`` (a log-normal delay around ``latency_ms`` a request), then quick for
    ``calm_s``, over and over."""

    name = "latency spikes"
    lasting = True

    def __init__(self, latency_ms: float = 1500.0, spike_s: float = 4.0, calm_s: float = 6.0) -> None:
        super().__init__()
        self.latency_ms, self.spike_s, self.calm_s = latency_ms, spike_s, calm_s

    def run(self, target: Target, stop: threading.Event) -> None:
        urls = target.systems()
        while not stop.is_set():
            set_faults(urls, latency_ms=self.latency_ms)
            self.injected += 1
            stop.wait(self.spike_s)
            set_faults(urls, latency_ms=0.0)
            stop.wait(self.calm_s)


class SessionExpiry(Fault):
    """Every signed-in session of every system ended every ``every_s`` seconds."""

    name = "sessions expiring"
    lasting = True

    def __init__(self, every_s: float = 5.0) -> None:
        super().__init__()
        self.every_s = every_s

    def run(self, target: Target, stop: threading.Event) -> None:
        urls = target.systems()
        while not stop.wait(self.every_s):
            self.injected += sum(int(admin(url, "POST", "expire-sessions")["expired"]) for url in urls.values())


class LostConfirmations(Fault):
    """A share of accepted submissions kept by the partner but answered 502 instead of the confirmation page, for
    ``window_s`` from when sending begins (a window opened with the phase closed before the first draft was
    approved, and met only the sends of the phase before's replays)."""

    name = "confirmation pages lost"

    def __init__(self, rate: float = 0.3, window_s: float = 90.0) -> None:
        super().__init__()
        self.rate, self.window_s = rate, window_s

    def run(self, target: Target, stop: threading.Event) -> None:
        urls = portals(target)
        before = stat(urls, "confirmations_lost")
        if not _wait_for(target.sending, stop):
            return
        set_faults(urls, confirmation_failure_rate=self.rate)
        stop.wait(self.window_s)
        set_faults(urls, confirmation_failure_rate=0.0)
        self.injected = stat(urls, "confirmations_lost") - before


@dataclass
class Kill:
    point: str  # mid-ingest, mid-form, between post and commit
    job_id: str
    at: float  # monotonic
    detected_s: float | None = None  # until the job left the dead worker's started registry
    rerun_s: float | None = None  # until it ran again (or ended) on a live worker


@dataclass
class _Running:
    child: Child
    job: Job
    since: float  # monotonic: when this harness first saw the worker on it


KILL_POINTS = ("mid-ingest", "mid-form", "between post and commit")


class WorkerKills(Fault):
    """``count`` SIGKILLs of a worker (its process group: the browser goes too) at the points of KILL_POINTS in
    turn: mid-ingest, while it fills a partner's form, and after the partner kept a submission but before vhub
    recorded it (the partner's confirmation held back ``confirmation_delay_ms`` so that moment lasts)."""

    name = "workers killed (SIGKILL)"

    def __init__(self, count: int = 10, confirmation_delay_ms: float = 2500.0, seed: int = 2026) -> None:
        super().__init__()
        self.count = count
        self.delay_ms = confirmation_delay_ms
        self.rng = random.Random(seed)
        self.kills: list[Kill] = []
        self.missed: dict[str, int] = {}  # looks for a worker to kill that failed, by error
        self._seen: dict[str, _Running] = {}

    def run(self, target: Target, stop: threading.Event) -> None:
        urls = portals(target)
        set_faults(urls, confirmation_delay_ms=self.delay_ms)
        try:
            while len(self.kills) < self.count and not stop.wait(0.1):
                try:
                    self._follow_up(target)
                    self._try_kill(target, urls)
                except Exception as error:  # noqa: BLE001 - a look that failed (Redis restarting, a slow page) is retried
                    self.missed[type(error).__name__] = self.missed.get(type(error).__name__, 0) + 1
            deadline = time.monotonic() + 120
            while any(kill.rerun_s is None for kill in self.kills) and time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    self._follow_up(target)
                time.sleep(0.2)
        finally:
            set_faults(urls, confirmation_delay_ms=0.0)
        self.injected = len(self.kills)

    def _wanted(self) -> list[str]:
        """The kill points, fewest kills so far first."""
        done = {point: sum(1 for kill in self.kills if kill.point == point) for point in KILL_POINTS}
        return sorted(KILL_POINTS, key=lambda point: (done[point], KILL_POINTS.index(point)))

    def _running(self, target: Target) -> list[_Running]:
        connection = target.ctx.jobs.connection
        with target.lock:
            children = [child for child in target.stack.children if worker_name(child) and child.running()]
        running = []
        for child in children:
            name = worker_name(child)
            worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + str(name), connection=connection)
            job_id = worker.get_current_job_id() if worker else None
            if not job_id:
                continue
            seen = self._seen.get(job_id)
            if seen is None or seen.child is not child:
                job = Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
                seen = self._seen[job_id] = _Running(child, job, time.monotonic())
            running.append(seen)
        return running

    def _try_kill(self, target: Target, urls: dict[str, str]) -> None:
        running = self._running(target)
        now = time.monotonic()
        for point in self._wanted():
            for item in running:
                kind = item.job.func_name
                if point == "mid-ingest" and kind == INGEST and now - item.since > self.rng.uniform(0.1, 1.5):
                    return self._kill(target, item, point)
                if kind != SUBMIT or point == "mid-ingest":
                    continue
                at_partner = self._at_partner(target, urls, int(item.job.args[0]))
                if at_partner is None:
                    continue
                if point == "between post and commit" and at_partner:
                    return self._kill(target, item, point)
                if point == "mid-form" and not at_partner and now - item.since > self.rng.uniform(0.5, 2.5):
                    return self._kill(target, item, point)
        return None

    @staticmethod
    def _at_partner(target: Target, urls: dict[str, str], draft_id: int) -> bool | None:
        """Whether the draft's partner holds its submission while vhub has not recorded it sent (None: sent, or
        not yet prepared)."""
        with target.ctx.db.session(read_only=True) as session:
            row = session.execute(
                select(SubmissionRow.portal, SubmissionRow.status, SubmissionRow.key).where(
                    SubmissionRow.draft_id == draft_id
                )
            ).first()
        if row is None or row.status == "sent" or row.portal not in urls:
            return None
        held = admin(urls[row.portal], "GET", "submissions")["submissions"]
        return any(item.get("key") == row.key for item in held)

    def _kill(self, target: Target, item: _Running, point: str) -> None:
        if not item.child.running():
            return
        item.child.signal(signal.SIGKILL)
        self.kills.append(Kill(point, item.job.id, time.monotonic()))

    def _follow_up(self, target: Target) -> None:
        """Time each killed job's detection (it leaves the started registry) and its next run."""
        connection = target.ctx.jobs.connection
        for kill in self.kills:
            if kill.rerun_s is not None:
                continue
            job = Job.fetch(kill.job_id, connection=connection, serializer=SERIALIZER)
            started = set(StartedJobRegistry(job.origin, connection=connection).get_job_ids())
            now = time.monotonic()
            if kill.detected_s is None and (job.id not in started or job.get_status() != "started"):
                kill.detected_s = round(now - kill.at, 1)
            if kill.detected_s is not None and (job.id in started or job.get_status() in ("finished", "failed")):
                kill.rerun_s = round(now - kill.at, 1)


class RedisRestarts(Fault):
    """redis-server killed with SIGKILL ``times`` times while work runs, each time started again at once from its
    append-only file (same port, same folder, same password)."""

    name = "redis-server killed, restarted from its AOF"

    def __init__(self, times: int = 2, gap_s: float = 20.0) -> None:
        super().__init__()
        self.times, self.gap_s = times, gap_s

    def run(self, target: Target, stop: threading.Event) -> None:
        while self.injected < self.times and not stop.is_set():
            if not _wait_for(target.work_flowing, stop):
                return
            target.in_keeper(lambda: self._restart(target))
            self.injected += 1
            stop.wait(self.gap_s)

    @staticmethod
    def _restart(target: Target) -> None:
        redis = next(child for child in target.stack.children if child.name == "redis")
        redis.kill()
        again = target.stack.restart(redis)
        _wait_redis(target.stack.redis_url, again)


def _wait_redis(url: str, child: Child, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with Redis.from_url(url) as client:
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except RedisError:
                if not child.running():
                    raise RuntimeError(f"redis-server did not start again: {child.tail()}") from None
                time.sleep(0.05)
    raise RuntimeError("redis-server did not answer within 30 s of its restart")


LOCK_SCRIPT = (
    "import sqlite3, sys, time\n"
    "connection = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)\n"
    "connection.execute('BEGIN IMMEDIATE')\n"
    "print('locked', flush=True)\n"
    "time.sleep(float(sys.argv[2]))\n"
    "connection.execute('ROLLBACK')\n"
)


class DatabaseLock(Fault):
    """Another process holds the SQLite store's write lock for ``hold_s`` seconds, ``times`` times while work runs
    (longer than the store's 30 s busy time-out, writers fail and their jobs are retried)."""

    name = "database locked"

    def __init__(self, hold_s: float = 40.0, times: int = 2, gap_s: float = 15.0) -> None:
        super().__init__()
        self.hold_s, self.times, self.gap_s = hold_s, times, gap_s

    def run(self, target: Target, stop: threading.Event) -> None:
        url = target.ctx.settings.sqlalchemy_url
        if not url.startswith("sqlite:///"):
            raise RuntimeError("the database lock fault is for the SQLite store")
        path = url.removeprefix("sqlite:///")
        while self.injected < self.times and not stop.is_set():
            if not _wait_for(target.work_flowing, stop):
                return
            with subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
                [sys.executable, "-c", LOCK_SCRIPT, path, str(self.hold_s)], stdout=subprocess.PIPE, text=True
            ) as holder:
                assert holder.stdout is not None
                if holder.stdout.readline().strip() == "locked":
                    self.injected += 1
                holder.wait(self.hold_s + 90)
            stop.wait(self.gap_s)


class RecordsDown(Fault):
    """The records system answers 503 to everything for ``seconds``, from when the phase's scan has listed its
    incidents (so the outage meets the reading of them)."""

    name = "records system down"

    def __init__(self, seconds: float = 120.0, when: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self.seconds = seconds
        self.when = when

    def run(self, target: Target, stop: threading.Event) -> None:
        url = {"records_system": target.systems()["records_system"]}
        if not _wait_for(self.when or target.work_flowing, stop):
            return
        set_faults(url, error_rate=1.0)
        self.injected = 1
        time.sleep(self.seconds)  # the outage lasts its time, whatever else happens
        set_faults(url, error_rate=0.0)
        self.notes.append(f"down {self.seconds:.0f} s")


def _wait_for(condition: Callable[[], bool], stop: threading.Event, timeout: float = 300.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            if condition():
                return True
        except (RedisError, OSError):
            pass
        time.sleep(0.2)
    return False


@dataclass
class Running:
    """Faults running on their threads; the first error any of them raised."""

    faults: list[Fault]
    stop: threading.Event = field(default_factory=threading.Event)  # lasting faults: their window is over
    idle: threading.Event = field(default_factory=threading.Event)  # every fault: nothing is left to hit
    errors: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, target: Target) -> Running:
        for fault in self.faults:

            def run(fault: Fault = fault) -> None:
                try:
                    fault.run(target, self.stop if fault.lasting else self.idle)
                except Exception as error:  # noqa: BLE001 - reported in the table's verdict
                    self.errors.append(f"{fault.name}: {type(error).__name__}: {error}")

            thread = threading.Thread(target=run, name=f"fault {fault.name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def over(self) -> bool:
        return not any(thread.is_alive() for thread in self.threads)

    def finish(self, timeout: float = 180.0) -> None:
        self.stop.set()
        self.idle.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
