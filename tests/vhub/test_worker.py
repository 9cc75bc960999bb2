"""The worker: it reads jobs as JSON only, and nothing one job bound to its log lines reaches the next."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Callback, Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from structlog.testing import LogCapture

from vhub import logs, redaction
from vhub.queues import SERIALIZER, Jobs
from vhub.worker import VhubWorker

log = logs.get_logger(__name__)
SURNAME = "Quartermaine"


def bind_a_reference(reference: str) -> None:
    """A job that binds an incident reference to its lines, as the task functions do."""
    logs.bind(reference=reference, workflow="referral")
    log.info("first job")


def log_a_line() -> None:
    log.info("second job")


def fail_naming_a_person() -> None:
    """A job that loads a person (registering the name, as every job does) and then fails quoting it."""
    redaction.remember([SURNAME])
    raise RuntimeError(f"no school recorded for {SURNAME}")


TEST_TASKS = ("tasks.", "tests.vhub.test_worker.")
"""The worker runs vhub's tasks; these tests also give it job functions of their own."""


class _RunsCodeWhenUnpickled:
    """What an attacker able to write to Redis would put in a job: unpickling it runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_a_job_does_not_carry_the_context_of_the_job_before(captured: LogCapture, redis_client: Redis) -> None:
    """The second job's lines carry its own job id and nothing the first job bound."""
    queue = Jobs(redis_client).queue("default")
    first = queue.enqueue(bind_a_reference, "OCC/26/000101")
    second = queue.enqueue(log_a_line)
    VhubWorker([queue], connection=redis_client, allowed=TEST_TASKS).work(burst=True)
    lines = {entry["event"]: entry for entry in captured.entries if entry["event"] in ("first job", "second job")}
    assert (first.id, "OCC/26/000101") == (lines["first job"]["job_id"], lines["first job"]["reference"])
    assert {"job_id": second.id, "queue": "default"} == {
        key: value for key, value in lines["second job"].items() if key in ("job_id", "queue", "reference", "workflow")
    }


def test_a_pickled_job_is_refused_and_its_code_never_runs(redis_client: Redis, tmp_path: Path) -> None:
    """A job written to Redis with pickle (rq's default) fails unread: the code its bytes carry does not run."""
    marker = tmp_path / "code-ran"
    Queue("default", connection=redis_client).enqueue(math.sqrt, _RunsCodeWhenUnpickled(marker))
    queue = Jobs(redis_client).queue("default")
    VhubWorker([queue], connection=redis_client, allowed=TEST_TASKS).work(burst=True)
    assert (False, 1) == (marker.exists(), FailedJobRegistry(queue=queue).count)


def test_a_failed_jobs_error_is_masked_in_the_log_and_in_rq(log_file: Callable[[], str], redis_client: Redis) -> None:
    """The worker's line about a failed job and rq's failed-job record both mask the name the job registered."""
    queue = Jobs(redis_client).queue("default")
    job = queue.enqueue(fail_naming_a_person)
    VhubWorker([queue], connection=redis_client, allowed=TEST_TASKS).work(burst=True)
    result = Job.fetch(job.id, connection=redis_client, serializer=SERIALIZER).latest_result()
    assert result is not None
    logged = log_file()
    assert "RuntimeError: no school recorded for [name]" == result.exc_string.strip().splitlines()[-1]
    assert (False, True) == (SURNAME in logged, "no school recorded for [name]" in logged)


def test_a_job_naming_any_other_function_is_failed_unrun(redis_client: Redis, tmp_path: Path) -> None:
    """A JSON job naming a function outside the tasks package (here pathlib.Path.touch) fails and does nothing."""
    marker = tmp_path / "code-ran"
    queue = Jobs(redis_client).queue("default")
    job = queue.enqueue("pathlib.Path.touch", str(marker))
    VhubWorker([queue], connection=redis_client).work(burst=True)
    result = Job.fetch(job.id, connection=redis_client, serializer=SERIALIZER).latest_result()
    assert result is not None
    assert (False, 1) == (marker.exists(), FailedJobRegistry(queue=queue).count)
    assert "'pathlib.Path.touch', not vhub tasks: it was not run" in result.exc_string


def test_a_job_whose_callback_names_another_function_is_failed_unrun(redis_client: Redis) -> None:
    """A tasks job whose failure callback names pathlib.Path.touch is refused whole, the callback included."""
    queue = Jobs(redis_client).queue("default")
    job = queue.enqueue("tasks.triage.triage_run", "no-such-run", on_failure=Callback("pathlib.Path.touch"))
    VhubWorker([queue], connection=redis_client).work(burst=True)
    result = Job.fetch(job.id, connection=redis_client, serializer=SERIALIZER).latest_result()
    assert result is not None
    assert 1 == FailedJobRegistry(queue=queue).count
    assert "'pathlib.Path.touch', not vhub tasks: it was not run" in result.exc_string
