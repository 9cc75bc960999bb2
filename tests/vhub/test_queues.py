"""queue/queues.toml: the policy the code reads, and the plain errors a broken file gives."""

from __future__ import annotations

import json
import math
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from rq.job import Job, JobStatus
from rq.rate_limit import RateLimitRegistry
from rq.registry import StartedJobRegistry

from vhub.errors import ConfigurationError
from vhub.queues import POLICY_FILE, SERIALIZER, Jobs, QueuePolicy
from vhub.worker import VhubWorker

MINIMAL = """
[queues]
order = ["submit"]
result_ttl_s = 60
failure_ttl_s = 60
{extra}
[jobs.submit]
queue = "{queue}"
timeout_s = 30
retry_intervals_s = [1, 2]
"""


def write(tmp_path: Path, *, extra: str = "", queue: str = "submit") -> Path:
    path = tmp_path / "queues.toml"
    path.write_text(MINIMAL.format(extra=extra, queue=queue), encoding="utf-8")
    return path


def test_the_shipped_policy_loads() -> None:
    """Every job of the shipped file names a known queue; maintenance every 15 s; a running job's heartbeat every
    5 s, lapsing after 20 s."""
    policy = QueuePolicy.load(POLICY_FILE)
    assert {"scan", "ingest", "triage", "draft", "isr_scan", "isr_lookup", "submit"} <= set(policy.jobs)
    assert (15, 5, 20) == (policy.maintenance_interval_s, policy.heartbeat_interval_s, policy.heartbeat_ttl_s)
    assert "submit" == policy.job("submit").queue


def test_maintenance_interval_defaults_and_is_read(tmp_path: Path) -> None:
    assert 60 == QueuePolicy.load(write(tmp_path)).maintenance_interval_s
    assert 5 == QueuePolicy.load(write(tmp_path, extra="maintenance_interval_s = 5")).maintenance_interval_s


def test_a_heartbeat_that_one_late_beat_would_lapse_is_refused(tmp_path: Path) -> None:
    """A heartbeat's time to live under three intervals is refused, naming both settings."""
    extra = "heartbeat_interval_s = 5\nheartbeat_ttl_s = 10"
    with pytest.raises(ConfigurationError, match="heartbeat_ttl_s must be at least three times queues.heartbeat_inte"):
        QueuePolicy.load(write(tmp_path, extra=extra))


def test_a_zero_maintenance_interval_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="maintenance_interval_s must be at least 1 second"):
        QueuePolicy.load(write(tmp_path, extra="maintenance_interval_s = 0"))


def test_a_job_on_an_unknown_queue_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="job 'submit' uses queue 'sumbit', not in queues.order"):
        QueuePolicy.load(write(tmp_path, queue="sumbit"))


def test_an_unknown_job_kind_names_the_table_to_add() -> None:
    with pytest.raises(ConfigurationError, match=r"has no \[jobs.reticulate\] table"):
        QueuePolicy.load(POLICY_FILE).job("reticulate")


def test_jobs_are_stored_as_json_and_run_from_it(redis_client: Redis) -> None:
    """A job's function and arguments are JSON in Redis, and a worker runs it from that JSON."""
    jobs = Jobs(redis_client)
    job = jobs.enqueue("triage", math.fsum, [0.5, 1.5])
    stored = redis_client.hget(job.key, "data")
    assert isinstance(stored, bytes)
    assert ["math.fsum", None, [[0.5, 1.5]], {}] == json.loads(zlib.decompress(stored))
    VhubWorker(jobs.queues(), connection=redis_client, allowed=("math.fsum",)).work(burst=True)
    assert 2.0 == Job.fetch(job.id, connection=redis_client, serializer=SERIALIZER).return_value()


def test_a_job_a_worker_has_taken_but_not_yet_started_is_in_flight(redis_client: Redis) -> None:
    """rq moves a job from its queue to the queue's intermediate list before it enters the started registry: in that
    moment it is still work in flight (the fault run once took it for a quiet stack and ended a fault unstruck)."""
    jobs = Jobs(redis_client)
    job = jobs.enqueue("triage", math.fsum, [0.5])
    queue = jobs.queue("default")
    assert (queue.key, job.id.encode()) == Queue.lmove(redis_client, queue.key, timeout=None)  # as a worker's dequeue
    assert (0, 0, 1) == (queue.count, StartedJobRegistry(queue=queue).count, jobs.in_flight())


def test_an_argument_json_cannot_hold_is_refused_when_enqueued(redis_client: Redis) -> None:
    """A time must be passed as its ISO string: a datetime object is refused before anything is queued."""
    jobs = Jobs(redis_client)
    with pytest.raises(TypeError, match="not JSON serializable"):
        jobs.enqueue("triage", "tasks.triage.triage_incident", "OCC/26/000101", datetime(2026, 3, 14, tzinfo=UTC))
    assert 0 == jobs.queue("default").count


def test_reclaim_gives_back_only_a_dead_workers_job_and_frees_its_session_slot(redis_client: Redis) -> None:
    """The dead worker's job is retried, its records-system slot goes to the job held back, it leaves rq's list of
    workers; the live worker's job is untouched."""
    jobs = Jobs(redis_client)
    held = [jobs.enqueue("ingest", "tasks.ingest.ingest", number) for number in range(3)]  # the cap is 2 sessions
    limit = RateLimitRegistry("records_system", redis_client)
    assert ([held[2].id], JobStatus.RATE_LIMITED) == (limit.get_rate_limited_job_ids(), held[2].get_status())
    dead, live = (
        VhubWorker(jobs.queues(), connection=redis_client, name=name) for name in ("h.vhub-1-1", "h.vhub-1-2")
    )
    running = {}
    for worker in (dead, live):
        worker.register_birth()
        job, _queue = worker.dequeue_job_and_maintain_ttl(timeout=1)
        worker.prepare_execution(job)
        worker.prepare_job_execution(job)
        running[worker.name] = job

    assert [running[dead.name].id] == jobs.reclaim([dead.name], alive=lambda pid: True)

    given_back = Job.fetch(running[dead.name].id, connection=redis_client, serializer=SERIALIZER)
    assert (JobStatus.SCHEDULED, 3) == (given_back.get_status(), given_back.retries_left)
    assert JobStatus.STARTED == running[live.name].get_status()
    assert [running[live.name].id] == StartedJobRegistry(queue=jobs.queue("ingest")).get_job_ids(cleanup=False)
    assert {running[live.name].id, held[2].id} == set(limit.get_allowed_job_ids())
    assert JobStatus.QUEUED == held[2].get_status()
    assert [live.name] == [worker.name for worker in Worker.all(connection=redis_client)]
