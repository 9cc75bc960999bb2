"""Workers on two hosts, as two machines run them: two `vhub worker` processes, each started from its own working
folder with its own data folder and Chromium, sharing only one Redis (with a password and its append-only file)
and one PostgreSQL. The work is shared and every invariant holds; evidence a worker keeps reaches the review app
of the other host through the store; a worker killed or paused mid-job on one host gives its job to the other in
seconds, and a paused one never goes on with it."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Worker
from rq.executions import Execution
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE
from rq.utils import as_text
from rq.worker import BaseWorker

from fixtures.records_system import generate
from tasks.ingest import start_scan
from tests.conftest import wait_for_redis
from tests.fixtures.sessions import TestClient, csrf_token
from tests.integration.conftest import RunningStack
from tests.postgres import Cluster
from tests.review.support import PASSWORD
from vhub import context
from vhub.evidence import DatabaseEvidence
from vhub.failed import show
from vhub.heartbeat import LOST
from vhub.queues import POLICY_FILE, SERIALIZER
from vhub.review import accounts
from vhub.review.app import create_app
from vhub.runtime import Stack, free_port
from vhub.settings import Settings
from vhub.simulated import Simulators
from vhub.simulated.auto_approve import approve_all
from vhub.store.runs import ListedVersion, run_progress

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow, pytest.mark.hosts]

HEARTBEAT_S, HEARTBEAT_TTL_S = 1, 4
SLOW_MS = 6000  # each request to the records system: a scan lasts well past a heartbeat's time to live


def short_policy(folder: Path) -> Path:
    """The shipped policy with short waits: retries after 1 s and 2 s, a heartbeat every second lapsing after 4."""
    text = POLICY_FILE.read_text(encoding="utf-8")
    text = re.sub(r"retry_intervals_s = \[[^\]]*\]", "retry_intervals_s = [1, 2]", text)
    text = re.sub(r"maintenance_interval_s = \d+", "maintenance_interval_s = 5", text)
    text = re.sub(r"heartbeat_interval_s = \d+", f"heartbeat_interval_s = {HEARTBEAT_S}", text)
    text = re.sub(r"heartbeat_ttl_s = \d+", f"heartbeat_ttl_s = {HEARTBEAT_TTL_S}", text)
    path = folder / "queues.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for both hosts, as a shared deployment runs it: a password and the append-only file on."""
    folder = tmp_path_factory.mktemp("shared-redis")
    password, port = secrets.token_hex(16), free_port()
    config = folder / "redis.conf"
    config.write_text(
        f'port {port}\nbind 127.0.0.1\ndir {folder}\nappendonly yes\nsave ""\nrequirepass {password}\n',
        encoding="utf-8",
    )
    process = subprocess.Popen(["redis-server", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    wait_for_redis(url)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def systems(
    tmp_path_factory: pytest.TempPathFactory, shared_redis: str, postgres_cluster: Cluster
) -> Iterator[RunningStack]:
    """The simulated systems as HTTP servers (their own folder), the shared PostgreSQL migrated, and this test
    process's context on both (it enqueues and checks as an admin's command would)."""
    tmp = tmp_path_factory.mktemp("systems")
    settings = Settings(
        data_dir=tmp / "var",
        redis_url=shared_redis,
        database_url=postgres_cluster.url(postgres_cluster.create_database()),
        queue_config=short_policy(tmp),
        review_second_approver_for_red=False,
        evidence_store="database",
    )
    stack = Stack(settings, workers=0, simulators=Simulators(seed=5, incidents=10))
    with stack:
        ctx = context.configure(stack.resolved())
        ctx.db.migrate()
        yield RunningStack(stack, ctx)
        ctx.db.dispose()


_starts = count(1)


@dataclass
class Host:
    """One machine: a working folder of its own, `vhub worker` started there with its own data folder."""

    folder: Path
    env: dict[str, str]
    name: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.folder / "var"

    def start(self) -> Host:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = f"{self.folder.name}.{next(_starts)}"
        env = {**self.env, "VHUB_DATA_DIR": str(self.data_dir)}
        with (self.folder / "worker.out").open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vhub", "worker", "--name", self.name],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def worker(self, connection: Redis) -> BaseWorker | None:
        return Worker.find_by_key(Worker.redis_worker_namespace_prefix + self.name, connection=connection)

    def signal_all(self, signum: int) -> None:
        """Signal the worker and everything it started (its browser, rq's scheduler), as a host's failure would."""
        assert self.process is not None
        os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm: the worker finishes its job, then its browser
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.signal_all(signal.SIGKILL)
                self.process.wait(10)
        if self.process is not None:
            try:
                self.signal_all(signal.SIGKILL)  # anything left of its group
            except ProcessLookupError:
                pass

    def log(self) -> str:
        return (self.folder / "worker.out").read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def hosts(systems: RunningStack, tmp_path: Path) -> Iterator[tuple[Host, Host]]:
    """Host A and host B, not yet started, each with its own working folder; the shared Redis emptied of jobs."""
    systems.ctx.jobs.connection.flushdb()
    env = systems.stack.child_env()
    env.update(
        {
            "VHUB_DATABASE_URL": systems.ctx.settings.database_url,
            "VHUB_EVIDENCE_STORE": "database",
            "VHUB_QUEUE_CONFIG": str(systems.ctx.settings.queue_config),
        }
    )
    env.pop("VHUB_DATA_DIR")
    pair = (Host(tmp_path / "host-a", env), Host(tmp_path / "host-b", env))
    yield pair
    for host in pair:
        host.stop()
    systems.admin("POST", "faults", {"latency_ms": 0, "latency_jitter": 0, "layout": "standard"})


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {timeout:.0f} s")


def started(systems: RunningStack, *hosts: Host) -> None:
    connection = systems.ctx.jobs.connection
    for host in hosts:
        wait_until(lambda host=host: host.worker(connection), 60, f"{host.name} registered")  # type: ignore[misc]


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


@contextmanager
def review_app(settings: Settings) -> Iterator[Callable[[str], TestClient]]:
    """The review app as host A serves it (its own data folder): a client signed in as a given account."""
    ctx = context.AppContext(settings)
    with ctx.db.session() as session:
        if "vhub.admin" not in {user.username for user in accounts.list_users(session)}:
            accounts.add_user(session, "vhub.admin", PASSWORD, "admin", "VHub Admin", actor="test")
            accounts.add_user(session, "alex.reviewer", PASSWORD, "reviewer", "Alex Reviewer", actor="test")
    app = create_app(settings, ctx)

    def signed_in(username: str) -> TestClient:
        client = TestClient(app, follow_redirects=False)
        sign_in(client, username)
        return client

    try:
        yield signed_in
    finally:
        ctx.db.dispose()
        ctx.jobs.connection.close()


def sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    answer = client.post(
        "/login", data={"csrf_token": csrf_token(page.text), "username": username, "password": PASSWORD}
    )
    assert 303 == answer.status_code


def test_two_hosts_share_the_work_every_invariant_holds_and_evidence_reaches_the_other_host(
    systems: RunningStack, hosts: tuple[Host, Host]
) -> None:
    """Both hosts take jobs from one Redis and one PostgreSQL; after a scan sent end to end `vhub verify` passes on
    host A; a failure on host B leaves nothing on B's disk, and host A's review app shows its screenshot to an
    admin (a reviewer is refused)."""
    host_a, host_b = (host.start() for host in hosts)
    started(systems, host_a, host_b)
    connection = systems.ctx.jobs.connection
    systems.activate()
    systems.scan()
    systems.wait_quiet()
    assert approve_all(systems.ctx) > 0
    systems.wait_quiet()
    done = {host.folder.name: host.worker(connection).successful_job_count for host in (host_a, host_b)}  # type: ignore[union-attr]
    assert all(done.values()), done

    verified = subprocess.run(
        [sys.executable, "-m", "vhub", "verify", "--json", str(host_a.folder / "verify.json")],
        cwd=host_a.folder,
        env={**host_a.env, "VHUB_DATA_DIR": str(host_a.data_dir)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert 0 == verified.returncode, verified.stdout + verified.stderr[-2000:]

    host_a.stop()  # host B alone is left to meet the changed page
    record = next(item for item in generate(5, 10).incidents if item.incident is not None and item.last_modified)
    assert record.last_modified is not None
    # A version not yet stored (stored ones are not read again): the bot must open its page.
    listed = ListedVersion(record.system_id, record.reference, record.last_modified + timedelta(minutes=1))
    systems.admin("POST", "faults", {"layout": "variant"})
    _run_id, job = systems.ingest_one(listed)
    failed = FailedJobRegistry(queue=systems.ctx.jobs.queue("ingest"))
    wait_until(lambda: job.id in failed.get_job_ids(), 120, "the ingest failed on host B")
    systems.admin("POST", "faults", {"layout": "standard"})

    job.refresh()
    assert host_b.name == job.worker_name
    kept = show(systems.ctx.jobs, job.id, DatabaseEvidence(systems.ctx.db)).evidence
    assert 1 == len(kept) and {"screenshot.png", "page.html"} <= set(kept[0].files)
    assert ([], []) == (files_under(host_b.data_dir / "evidence"), files_under(host_a.data_dir / "evidence"))

    host_a_settings = systems.ctx.settings.model_copy(update={"data_dir": host_a.data_dir})
    with review_app(host_a_settings) as signed_in:
        admin, reviewer = signed_in("vhub.admin"), signed_in("alex.reviewer")
        page = admin.get(f"/admin/failed-jobs/{job.id}")
        screenshot = admin.get(f"/admin/failed-jobs/{job.id}/evidence/1/screenshot.png")
        refused = reviewer.get(f"/admin/failed-jobs/{job.id}/evidence/1/screenshot.png")
    assert 200 == page.status_code and f"/admin/failed-jobs/{job.id}/evidence/1/screenshot.png" in page.text
    assert (200, "image/png", b"\x89PNG") == (
        screenshot.status_code,
        screenshot.headers["content-type"],
        screenshot.content[:4],
    )
    assert 403 == refused.status_code


def slow_scan(systems: RunningStack, hosts: tuple[Host, Host]) -> tuple[str, str, Host, Host]:
    """Host B alone takes the scheduler's role and starts a scan of a slow records system, then host A starts:
    the run id, the scan's job id, host B and host A. Losing B then loses the scheduler too, which a retry needs."""
    host_a, host_b = hosts
    connection = systems.ctx.jobs.connection
    host_b.start()
    started(systems, host_b)
    wait_until(lambda: connection.get(SCHEDULER_LOCKING_KEY_TEMPLATE % "scan"), 60, "host B's scheduler started")
    systems.admin("POST", "faults", {"latency_ms": SLOW_MS, "latency_jitter": 0})
    systems.activate()
    run_id = start_scan(kind="test")
    worker = host_b.worker(connection)
    assert worker is not None
    job_id = wait_until(lambda: worker.get_current_job_id(), 60, "the scan running on host B")
    host_a.start()
    started(systems, host_a)
    return run_id, str(job_id), host_b, host_a


def running_on(systems: RunningStack, job_id: str) -> str | None:
    """The name of the worker whose execution of the job is in the started registry, if any."""
    connection = systems.ctx.jobs.connection
    registry = StartedJobRegistry(queue=systems.ctx.jobs.queue("scan"))
    for found, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        if found == job_id:
            owner = connection.hget(Execution(execution_id, job_id, connection).key, "worker_name")
            return as_text(owner) if owner else None
    return None


def finish(systems: RunningStack, run_id: str) -> None:
    systems.admin("POST", "faults", {"latency_ms": 0, "latency_jitter": 0})

    def complete() -> bool:
        with systems.ctx.db.session() as session:
            return bool(run_progress(session, run_id)["status"] == "complete")

    wait_until(complete, 180, f"run {run_id} complete")


def test_a_slow_job_keeps_its_worker_and_a_killed_one_runs_again_on_the_other_host_in_seconds(
    systems: RunningStack, hosts: tuple[Host, Host]
) -> None:
    """A scan slower than the heartbeat's time to live stays with its worker; SIGKILL of that host's worker, browser
    and scheduler mid-scan, and the scan runs again on the other host (its scheduler taking over the retry) long
    before rq's own clean-up (the scan's time-out plus a minute) would give it up, and the run completes."""
    run_id, job_id, victim, survivor = slow_scan(systems, hosts)
    time.sleep(HEARTBEAT_TTL_S * 2.5)  # alive and slow: never taken for dead
    job = Job.fetch(job_id, connection=systems.ctx.jobs.connection, serializer=SERIALIZER)
    assert (victim.name, 2) == (running_on(systems, job_id), job.retries_left)

    victim.signal_all(signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: running_on(systems, job_id) == survivor.name, 120, "the scan running on the other host")
    print(
        f"\nkilled on {victim.folder.name}, running again on {survivor.folder.name} after "
        f"{time.monotonic() - killed:.1f} s"
    )
    finish(systems, run_id)


def test_a_worker_paused_past_its_heartbeat_gives_up_its_job_and_stops_instead_of_going_on(
    systems: RunningStack, hosts: tuple[Host, Host]
) -> None:
    """A host frozen mid-scan (SIGSTOP of its worker and browser) past the heartbeat's time to live: the other host
    runs the scan; when the frozen one wakes it stops itself (exit 75) rather than go on with a job now another's."""
    run_id, job_id, victim, survivor = slow_scan(systems, hosts)
    victim.signal_all(signal.SIGSTOP)
    try:
        wait_until(lambda: running_on(systems, job_id) == survivor.name, 120, "the scan running on the other host")
    finally:
        victim.signal_all(signal.SIGCONT)
    assert victim.process is not None
    assert LOST == victim.process.wait(30), victim.log()[-2000:]
    assert "job heartbeat lost" in victim.log()
    finish(systems, run_id)
