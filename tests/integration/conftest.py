"""The embedded stack for integration tests: real redis-server, the simulated systems, real workers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rq.job import Job

from tasks.ingest import ingest, ingest_failed, start_scan
from tasks.isr import start_isr_scan
from tests.conftest import Databases
from tests.factories import raw_incident
from vhub import context
from vhub.context import AppContext
from vhub.runtime import Stack
from vhub.settings import Settings
from vhub.simulated import Simulators
from vhub.store.runs import ListedVersion, record_found, run_progress, start_run


@dataclass
class RunningStack:
    stack: Stack
    ctx: AppContext

    @property
    def records_url(self) -> str:
        return self.stack.records_url

    def admin(self, method: str, path: str, payload: Any = None, *, system: str = "records_system") -> Any:
        base = self.stack.records_url if system == "records_system" else self.stack.isr_url
        response = httpx.request(method, f"{base}/_admin/{path}", json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_quiet(self, timeout: float = 240.0) -> None:
        """Wait until no job is queued, running, scheduled or waiting on another (twice in a row)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline and quiet < 2:
            quiet = 0 if self.ctx.jobs.in_flight() else quiet + 1
            time.sleep(0.3)
        if quiet < 2:
            pytest.fail(f"jobs still running after {timeout:.0f} s: {self.jobs_in_flight()}")

    def jobs_in_flight(self) -> dict[str, Any]:
        """Where each unfinished job is: queue, registry or rate-limit set (for a failure message)."""
        from rq.rate_limit import RateLimitRegistry
        from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

        where: dict[str, Any] = {}
        for queue in self.ctx.jobs.queues():
            for registry in (StartedJobRegistry, ScheduledJobRegistry, DeferredJobRegistry):
                if ids := registry(queue=queue).get_job_ids():
                    where[f"{queue.name}:{registry.__name__}"] = ids
            if queue.count:
                where[f"{queue.name}:queued"] = queue.job_ids
        for limit in RateLimitRegistry.all(self.ctx.jobs.connection):
            where[f"rate limit {limit.key}"] = {
                "allowed": limit.connection.zrange(limit.allowed_key, 0, -1),
                "held back": limit.get_rate_limited_job_ids(),
            }
        return where

    def activate(self) -> RunningStack:
        """Make this stack's context the one task functions use (another stack may have replaced it)."""
        context.use(self.ctx)
        return self

    def ingest_one(self, listed: ListedVersion) -> tuple[str, Job]:
        """A run that found one version, and that version's ingest queued as a scan queues it: run id and job."""
        with self.ctx.db.session() as session:
            run_id = start_run(session, kind="test", system="records_system", changed_since=None)
            record_found(session, run_id, "records_system", [listed])
        self.activate()
        job = self.ctx.jobs.enqueue(
            "ingest",
            ingest,
            run_id,
            listed.system_id,
            listed.reference,
            listed.last_modified.isoformat(),
            on_failure=ingest_failed,
        )
        return run_id, job

    def scan(self, timeout: float = 240.0) -> dict[str, Any]:
        """Queue a scan and wait until its run is complete (every found version handled)."""
        self.activate()
        run_id = start_scan(kind="test")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.ctx.db.session() as session:
                progress = run_progress(session, run_id)
            if progress["status"] == "complete":
                return {"run_id": run_id, **progress}
            time.sleep(0.2)
        pytest.fail(f"run {run_id} did not complete in {timeout:.0f} s: {progress}")


@contextmanager
def running_stack(
    tmp_path: Path,
    *,
    incidents: int,
    seed: int,
    database_url: str,
    env: dict[str, str] | None = None,
    extra: Path | None = None,
) -> Iterator[RunningStack]:
    """The embedded stack with two workers, its store at ``database_url`` ("" = SQLite in the data folder)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**(env or {}), "VHUB_DATABASE_URL": database_url}.items():
            patch.setenv(name, value)
        settings = Settings(data_dir=tmp_path / "var")  # this process enqueues by the same settings as the workers
        stack = Stack(settings, workers=2, simulators=Simulators(seed=seed, incidents=incidents, extra=extra))
        with stack:
            ctx = context.configure(stack.resolved())
            ctx.db.migrate()
            yield RunningStack(stack, ctx)
            ctx.db.dispose()


@contextmanager
def every(interval_s: float, action: Callable[[], Any]) -> Iterator[None]:
    """Call ``action`` every ``interval_s`` seconds in a thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            action()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


SEED, COUNT = 11, 100
ISR_REQUESTS = 8  # each subject is also searched for in the records system: enough for traces and no-traces
PLANTED_MALFORMED = {
    **raw_incident(reference="OCC/26/990001", system_id=9001),
    "people": [{**raw_incident()["people"][2], "date_of_birth": "31/02/2016"}],
    "child_risk_assessments": [],
}


@pytest.fixture(scope="session")
def synthetic_run(
    tmp_path_factory: pytest.TempPathFactory, databases: Databases
) -> Iterator[tuple[RunningStack, dict[str, Any]]]:
    """100 generated incidents plus one planted malformed record, scanned, ingested, triaged and drafted; the
    ISR portal's open requests read, looked up and answered in drafts."""
    tmp = tmp_path_factory.mktemp("synthetic")
    extra = write_extra(tmp / "extra.json", [PLANTED_MALFORMED])
    env = {"VHUB_FIXTURES_ISR_REQUESTS": str(ISR_REQUESTS)}
    url = databases.new_url()
    with running_stack(tmp, incidents=COUNT, seed=SEED, database_url=url, extra=extra, env=env) as stack:
        stack.activate()
        start_isr_scan()
        run = stack.scan()
        stack.wait_quiet()
        yield stack, run


def write_extra(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


FAST_POLICY = """
[queues]
order = ["high", "submit", "default", "ingest", "scan", "low"]
result_ttl_s = 3600
failure_ttl_s = 3600
maintenance_interval_s = 5
[jobs.scan]
queue = "scan"
timeout_s = 600
retry_intervals_s = [1, 2]
rate_limit = "records_system"
[jobs.ingest]
queue = "ingest"
timeout_s = 120
retry_intervals_s = [1, 2, 5]
rate_limit = "records_system"
[jobs.triage]
queue = "default"
timeout_s = 60
retry_intervals_s = [1, 2]
[jobs.draft]
queue = "default"
timeout_s = 60
retry_intervals_s = [1, 2]
[jobs.isr_scan]
queue = "scan"
timeout_s = 300
retry_intervals_s = [1, 2]
rate_limit = "isr_portal"
[jobs.isr_lookup]
queue = "default"
timeout_s = 300
retry_intervals_s = [1, 2]
rate_limit = "records_system"
[jobs.submit]
queue = "submit"
timeout_s = 60
retry_intervals_s = [1, 2, 3, 5, 8, 13]
[rate_limits]
records_system = 2
isr_portal = 1
referral_herefordshire = 1
referral_worcestershire = 1
referral_shropshire = 1
referral_telford_wrekin = 1
school_portal = 1
marac_portal = 1
"""


def fast_policy(folder: Path) -> Path:
    """A queues.toml in ``folder`` with the shipped queues and jobs but retries within seconds and one session per
    system, for stacks whose tests meet faults, kills and retries."""
    path = folder / "queues.toml"
    path.write_text(FAST_POLICY, encoding="utf-8")
    return path
