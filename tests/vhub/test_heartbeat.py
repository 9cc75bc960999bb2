"""Short heartbeats of running jobs on a real redis-server: renewed while a job runs, a lapsed one given back, a
worker that loses its job stops itself, a dead scheduler's lock freed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE

from vhub.heartbeat import SCHEDULER_LOCK_S, ExecutionHeartbeat
from vhub.queues import SERIALIZER, Jobs, QueuePolicy
from vhub.worker import VhubWorker

POLICY = """
[queues]
order = ["submit"]
result_ttl_s = 60
failure_ttl_s = 60
heartbeat_interval_s = 1
heartbeat_ttl_s = 3
[jobs.submit]
queue = "submit"
timeout_s = 600
retry_intervals_s = [30]
"""


class Stopped(Exception):
    """Raised where a worker process would exit (code 75)."""


def stop() -> None:
    raise Stopped


@pytest.fixture
def jobs(redis_client: Redis, tmp_path: Path) -> Jobs:
    path = tmp_path / "queues.toml"
    path.write_text(POLICY, encoding="utf-8")
    return Jobs(redis_client, QueuePolicy.load(path))


@pytest.fixture
def beat(jobs: Jobs) -> Iterator[ExecutionHeartbeat]:
    yield ExecutionHeartbeat(jobs.connection, jobs.queues(), interval_s=1, ttl_s=3, stop_process=stop)


def running(jobs: Jobs, name: str = "host-b.1") -> tuple[Job, Execution]:
    """A submission started by a worker, as rq leaves it: its execution in the started registry for the job's
    time-out plus a minute."""
    job = jobs.enqueue("submit", "tasks.submit.submit_draft", 7)
    worker = VhubWorker(jobs.queues(), connection=jobs.connection, name=name)
    execution = worker.prepare_execution(job)
    worker.prepare_job_execution(job)
    return job, execution


def expires_in(jobs: Jobs, execution: Execution) -> float:
    registry = StartedJobRegistry(queue=jobs.queue("submit"))
    score = jobs.connection.zscore(registry.key, execution.composite_key)
    assert score is not None
    return float(score) - time.time()


def test_a_running_job_is_held_for_the_short_time_to_live_not_its_time_out(
    jobs: Jobs, beat: ExecutionHeartbeat
) -> None:
    """Holding a job renews its execution for the heartbeat's 3 s, not rq's 660 s, and each beat renews it again
    however long the job runs; once the job ends its execution is renewed no more."""
    _job, execution = running(jobs)
    registry = StartedJobRegistry(queue=jobs.queue("submit"))
    assert expires_in(jobs, execution) > 600
    with beat.holding(jobs.queue("submit"), execution):
        assert 0.5 < expires_in(jobs, execution) <= 3
        jobs.connection.zadd(registry.key, {execution.composite_key: time.time() + 0.5}, xx=True)  # time passed
        beat.tick()
        assert 0.5 < expires_in(jobs, execution) <= 3
    jobs.connection.zadd(registry.key, {execution.composite_key: time.time() + 0.5}, xx=True)
    beat.tick()
    assert expires_in(jobs, execution) <= 0.5


def test_a_lapsed_job_is_given_back_and_a_held_one_is_left(jobs: Jobs, beat: ExecutionHeartbeat) -> None:
    """A job whose heartbeat lapsed is retried after its first retry interval (rq's abandoned-job handling);
    another, still renewed, stays with its worker."""
    lapsed, dead = running(jobs, "host-b.1")
    held, alive = running(jobs, "host-a.1")
    registry = StartedJobRegistry(queue=jobs.queue("submit"))
    with beat.holding(jobs.queue("submit"), dead):
        pass
    jobs.connection.zadd(registry.key, {dead.composite_key: time.time() - 1}, xx=True)  # its worker died a while ago
    with beat.holding(jobs.queue("submit"), alive):
        assert [lapsed.id] == beat.sweep()
        assert [held.id] == registry.get_job_ids(cleanup=False)
    assert [lapsed.id] == ScheduledJobRegistry(queue=jobs.queue("submit")).get_job_ids()
    assert JobStatus.SCHEDULED == Job.fetch(lapsed.id, jobs.connection, serializer=SERIALIZER).get_status()


def test_a_worker_whose_job_was_given_to_another_stops_at_its_next_heartbeat(
    jobs: Jobs, beat: ExecutionHeartbeat
) -> None:
    """If the job's execution is no longer in the started registry (swept while the worker was frozen), the next
    renewal stops the process, and so does the guard before a final post."""
    _job, execution = running(jobs)
    registry = StartedJobRegistry(queue=jobs.queue("submit"))
    with beat.holding(jobs.queue("submit"), execution):
        jobs.connection.zrem(registry.key, execution.composite_key)
        with pytest.raises(Stopped):
            beat.guard()
        with pytest.raises(Stopped), beat._lock:
            beat._renew_held()


def test_a_worker_that_could_not_renew_in_time_stops_before_its_final_post(
    jobs: Jobs, beat: ExecutionHeartbeat
) -> None:
    """The guard stops a worker whose last renewal is older than the time to live less one interval, even if Redis
    still names it (its clock says the job may be another's by now)."""
    _job, execution = running(jobs)
    with beat.holding(jobs.queue("submit"), execution):
        beat.guard()  # fresh: nothing happens
        beat._renewed_at -= 2.5
        with pytest.raises(Stopped):
            beat.guard()


def test_a_scheduler_lock_not_renewed_for_half_a_minute_is_freed(jobs: Jobs, beat: ExecutionHeartbeat) -> None:
    """A lock rq's scheduler renews every second is left; one whose time to live shows 30 s without renewal is
    freed for a live worker's scheduler."""
    key = SCHEDULER_LOCKING_KEY_TEMPLATE % "submit"
    jobs.connection.set(key, "host-a.scheduler", ex=SCHEDULER_LOCK_S)
    assert [] == beat.free_stale_scheduler_locks()
    jobs.connection.set(key, "host-b.scheduler", ex=SCHEDULER_LOCK_S - 31)
    assert (["submit"], None) == (beat.free_stale_scheduler_locks(), jobs.connection.get(key))


def test_a_worker_takes_every_queue_a_stopped_scheduler_held_at_one_maintenance(
    jobs: Jobs, beat: ExecutionHeartbeat
) -> None:
    """Maintenance frees a dead scheduler's stale locks, then rq takes the role: this worker's scheduler holds every
    queue, not the few a lock freed from another thread left it (the rest then waited two minutes, retries too)."""
    for queue in jobs.queues():
        jobs.connection.set(SCHEDULER_LOCKING_KEY_TEMPLATE % queue.name, "host-b.scheduler", ex=SCHEDULER_LOCK_S - 31)
    worker = VhubWorker(jobs.queues(), connection=jobs.connection, name="host-a.1", beat=beat)
    worker._start_scheduler()  # as work() does; host-b's locks are held, so no scheduler role yet
    worker.run_maintenance_tasks()  # the first, which rq leaves to work()'s start
    assert not worker.scheduler.acquired_locks
    try:
        worker.run_maintenance_tasks()
        holders = {jobs.connection.get(SCHEDULER_LOCKING_KEY_TEMPLATE % queue.name) for queue in jobs.queues()}
        assert {worker.scheduler.name.encode()} == holders
    finally:
        worker.stop_scheduler()


def test_a_scheduler_stopped_the_moment_it_starts_ends_and_this_process_goes_on(jobs: Jobs) -> None:
    """Until the scheduler's fork has put in its own signal handlers it runs the worker's, which raise: stopped in that
    instant, the fork once went on as a second copy of the worker (here: of the test) and the stop waited on it for
    ever. Each stop now ends its scheduler cleanly, whatever the timing."""
    me = os.getpid()

    def workers_handler(signum: int, frame: object) -> None:
        raise StopRequested

    previous = signal.signal(signal.SIGTERM, workers_handler)
    try:
        for attempt in range(8):
            worker = VhubWorker(jobs.queues(), connection=jobs.connection, name=f"host-a.{attempt}")
            worker._start_scheduler()
            process = worker.scheduler._process
            assert process is not None
            worker.stop_scheduler()
            if os.getpid() != me:  # a fork that escaped is here too: end it before it reports as this test
                os._exit(70)
            assert 0 == process.exitcode  # its own handler ran: locks released, death registered
            assert not jobs.connection.exists(worker.scheduler.key)
    finally:
        signal.signal(signal.SIGTERM, previous)
