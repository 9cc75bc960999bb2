"""Supervision on real processes: a killed worker is restarted and its job runs again at once; a stop lets the
running job finish; a worker that keeps dying is given up with an alert, the rest still running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from redis import Redis
from rq import Worker
from rq.job import Job, JobStatus
from rq.rate_limit import RateLimitRegistry
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from tasks.ingest import start_scan
from tests.integration.conftest import fast_policy
from tests.vhub.test_runtime import live_environment, stack_settings, wait_until  # noqa: F401  # a fixture, by name
from vhub import context
from vhub.context import AppContext
from vhub.portals import portal_for
from vhub.queues import SERIALIZER
from vhub.review.accounts import add_user
from vhub.review.decisions import approve
from vhub.runtime import Child, Stack, pid_alive, worker_name
from vhub.settings import Settings
from vhub.simulated import Simulators
from vhub.store import Database
from vhub.store.tables import AuditEventRow, DraftRow, RunRow, SubmissionRow, utcnow
from vhub.supervisor import Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

SLOW_MS = 1500  # each request to the records system: a scan takes several seconds


@contextmanager
def simulated(tmp_path: Path, redis_url: str) -> Iterator[tuple[Stack, AppContext]]:
    """Two workers on the simulated systems, with the test's own Redis (it outlives the stack)."""
    policy = fast_policy(tmp_path)
    settings = Settings(
        data_dir=tmp_path / "var", redis_url=redis_url, queue_config=policy, review_second_approver_for_red=False
    )
    stack = Stack(settings, workers=2, simulators=Simulators(seed=3, incidents=30))
    with stack:
        ctx = context.configure(stack.resolved())
        ctx.db.migrate()
        yield stack, ctx
        ctx.db.dispose()


def slow_scan(stack: Stack, ctx: AppContext) -> tuple[str, Worker]:
    """Queue a scan of a slow records system; the job id and the worker running it, once it runs."""
    faults = {"latency_ms": SLOW_MS, "latency_jitter": 0}
    httpx.post(f"{stack.records_url}/_admin/faults", json=faults, timeout=10).raise_for_status()
    start_scan(kind="test")
    busy: list[Worker] = []
    assert wait_until(
        lambda: (
            bool(busy.extend(w for w in Worker.all(connection=ctx.jobs.connection) if w.get_current_job_id()))
            or bool(busy)
        ),
        30,
    )
    time.sleep(1.0)  # signed in, part-way through the listing
    return str(busy[0].get_current_job_id()), busy[0]


def child_of(stack: Stack, worker: Worker) -> Child:
    return next(child for child in stack.children if worker_name(child) == worker.name)


def test_a_worker_killed_mid_job_is_restarted_and_its_job_runs_again_at_once(
    tmp_path: Path, redis_url: str, redis_client: Redis
) -> None:
    """kill -9 of a worker mid-scan: a new worker takes its place, the other worker and the simulated systems keep
    running, the scan runs again long before rq's own clean-up (its time-out plus a minute) and the run completes."""
    with simulated(tmp_path, redis_url) as (stack, ctx):
        job_id, busy = slow_scan(stack, ctx)
        victim = child_of(stack, busy)
        others = {child.name: child.pid for child in stack.children if child is not victim}
        os.killpg(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        supervisor = Supervisor(stack)

        def running_again() -> bool:
            supervisor.check()
            job = Job.fetch(job_id, connection=ctx.jobs.connection, serializer=SERIALIZER)
            return job.get_status() in (JobStatus.STARTED, JobStatus.FINISHED) and job.worker_name != busy.name

        job = Job.fetch(job_id, connection=ctx.jobs.connection, serializer=SERIALIZER)
        assert wait_until(running_again, 60), (job.get_status(), job.worker_name, ctx.jobs.connection.keys("rq:sch*"))
        print(f"killed worker -> its job running again: {time.monotonic() - killed_at:.1f} s")
        restarted = next(child for child in stack.children if child.name == victim.name)
        assert restarted.running() and restarted.pid != victim.pid
        assert others == {child.name: child.pid for child in stack.children if child.name != victim.name}
        assert all(child.running() for child in stack.children)
        assert busy.name not in [w.name for w in Worker.all(connection=ctx.jobs.connection)]
        httpx.post(f"{stack.records_url}/_admin/faults", json={"latency_ms": 0}, timeout=10).raise_for_status()
        with ctx.db.session() as session:
            run_id = session.scalars(select(RunRow.id)).one()
        assert wait_until(lambda: _status(ctx, run_id) == "complete" and not supervisor.check(), 120)
        with ctx.db.session() as session:
            alerts = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "alert.raised")).all()
        assert [victim.name] == [event.entity_id for event in alerts]
        assert "restarted" in alerts[0].after["title"]


def _status(ctx: AppContext, run_id: str) -> str:
    from vhub.store.runs import run_progress

    with ctx.db.session() as session:
        return str(run_progress(session, run_id)["status"])


def test_stopping_lets_the_running_job_finish_before_the_browser_closes(
    tmp_path: Path, redis_url: str, redis_client: Redis
) -> None:
    """Stopping the stack mid-scan (as SIGTERM to `vhub up` does): the scan finishes, is not failed, retried or
    left running, and no session slot stays held."""
    with simulated(tmp_path, redis_url) as (stack, ctx):
        job_id, _busy = slow_scan(stack, ctx)
        stack.stop()
    connection = redis_client
    job = Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
    queue = ctx.jobs.queue("scan")
    assert JobStatus.FINISHED == job.get_status()
    assert ([], []) == (StartedJobRegistry(queue=queue).get_job_ids(), FailedJobRegistry(queue=queue).get_job_ids())
    assert job_id not in RateLimitRegistry("records_system", connection).get_allowed_job_ids()


def test_a_worker_that_keeps_stopping_is_given_up_with_an_alert(stack_settings: Settings) -> None:  # noqa: F811
    """Past the restart limit a worker is no longer restarted and an alert says so; the other worker runs on."""
    settings = stack_settings.model_copy(update={"restart_limit": 1})
    Database(settings).migrate()
    now = [0.0]
    with Stack(settings, workers=2) as stack:
        supervisor = Supervisor(stack, clock=lambda: now[0])
        for _ in range(2):
            victim = next(child for child in stack.children if child.name == "worker-1")
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(10)
            assert supervisor.check() is None
            now[0] += 120  # past any back-off, within the window
            assert supervisor.check() is None
        assert not next(child for child in stack.children if child.name == "worker-1").running()
        assert {"worker-1"} == supervisor.given_up
        assert all(child.running() for child in stack.children if child.name != "worker-1")
        assert pid_alive(next(child.pid for child in stack.children if child.name == "worker-2") or 0)
    db = Database(settings)
    with db.session() as session:
        titles = session.scalars(select(AuditEventRow.after).where(AuditEventRow.action == "alert.raised")).all()
    db.dispose()
    assert ["vhub worker-1 restarted", "vhub worker-1 given up"] == [after["title"] for after in titles]


RUNBOOK = Path(__file__).resolve().parents[2] / "runbooks" / "worker-died.md"


def test_the_worker_died_runbook_runs_on_the_embedded_stack(stack_settings: Settings) -> None:  # noqa: F811
    """After a worker is killed and restarted, every command of runbooks/worker-died.md runs and succeeds."""
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(encoding="utf-8"), re.DOTALL)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    assert 4 <= len(commands)
    Database(stack_settings).migrate()
    with Stack(stack_settings, workers=1) as stack, Redis.from_url(stack.redis_url) as connection:

        def registered() -> bool:
            return [worker_name(stack.children[-1])] == [worker.name for worker in Worker.all(connection)]

        assert wait_until(registered, 60)
        victim = stack.children[-1]
        os.killpg(victim.pid, signal.SIGKILL)
        supervisor = Supervisor(stack)
        assert wait_until(lambda: supervisor.check() is None and stack.children[-1] is not victim and registered(), 60)
        env = {**os.environ, "VHUB_DATA_DIR": str(stack_settings.data_path), **live_environment()}
        outputs = []
        for command in commands:
            line = re.sub(r"^vhub ", f"{sys.executable} -m vhub ", command)
            done = subprocess.run(  # noqa: S603
                ["bash", "-c", line], env=env, cwd=stack_settings.data_path.parent, capture_output=True, text=True
            )
            assert 0 == done.returncode, (command, done.stdout, done.stderr)
            outputs.append(done.stdout)
    assert "Workers: 1" in outputs[0] and f"{worker_name(victim)}:" not in outputs[0]
    assert "Worker " in outputs[1]  # the killed worker's own log


def test_stopping_mid_send_lets_the_submission_finish(tmp_path: Path, redis_url: str, redis_client: Redis) -> None:
    """Stopping the stack while a bot fills a slow portal's form: the draft is sent, once, with the portal's
    reference stored; its job finished, not failed, retried or left running."""
    with simulated(tmp_path, redis_url) as (stack, ctx):
        start_scan(kind="test")

        def drafted() -> bool:
            with ctx.db.session(read_only=True) as session:
                return bool(session.scalar(select(func.count(DraftRow.id)))) and not ctx.jobs.in_flight()

        assert wait_until(drafted, 240)
        with ctx.db.session() as session:
            draft = session.scalars(select(DraftRow).order_by(DraftRow.id)).first()
            assert draft is not None
            portal = portal_for(draft.workflow, draft.recipient)
            draft_id, row_version = draft.id, draft.row_version
            user = add_user(session, "stop.test", "synthetic-warm-stop-pass", "reviewer")
        slow = {"latency_ms": SLOW_MS, "latency_jitter": 0}
        httpx.post(f"{stack.urls[portal]}/_admin/faults", json=slow, timeout=10).raise_for_status()
        with ctx.db.session() as session:
            approve(session, draft_id, user, row_version, now=utcnow(), jobs=ctx.jobs, second_approver_for_red=False)

        def sending() -> bool:
            with ctx.db.session(read_only=True) as session:
                status = session.scalar(select(SubmissionRow.status).where(SubmissionRow.draft_id == draft_id))
            return status == "sending"

        assert wait_until(sending, 60)
        time.sleep(1.0)  # into the form
        job_ids = StartedJobRegistry(queue=ctx.jobs.queue("submit")).get_job_ids()
        stack.stop()
    with ctx.db.session() as session:
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).one()
        assert ("sent", 1) == (row.status, row.attempts) and row.partner_reference
        assert "sent" == session.get_one(DraftRow, draft_id).status
    assert 1 == len(job_ids)
    assert JobStatus.FINISHED == Job.fetch(job_ids[0], connection=redis_client, serializer=SERIALIZER).get_status()
