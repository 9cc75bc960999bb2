"""Failed jobs for an admin: what failed, why (the last line of the error), and replaying it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from vhub.errors import VhubError
from vhub.queues import SERIALIZER, Jobs

# A job whose data is not JSON (it failed before jobs were stored as JSON, or vhub did not write it) is
# still listed with its reason, but its function and arguments are never unpickled to show them (and a
# worker refuses it if it is replayed).
UNREADABLE = "(not readable: not stored as JSON)"


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    function: str
    args: str
    failed_at: datetime | None
    reason: str


def _reason(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result is not None else "") or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no error recorded"


def _call(job: Job) -> tuple[str, str]:
    try:
        return job.func_name or "?", ", ".join(repr(arg) for arg in job.args)
    except DeserializationError:
        return "?", UNREADABLE


def list_failed(jobs: Jobs) -> list[FailedJob]:
    found = []
    for queue in jobs.queues():
        registry = FailedJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            try:
                job = Job.fetch(job_id, connection=jobs.connection, serializer=SERIALIZER)
            except NoSuchJobError:
                continue
            function, args = _call(job)
            found.append(
                FailedJob(
                    id=job.id,
                    queue=queue.name,
                    function=function,
                    args=args,
                    failed_at=job.ended_at,
                    reason=_reason(job),
                )
            )
    return sorted(found, key=lambda job: job.failed_at or datetime.min)


def check_failed(jobs: Jobs, job_ids: list[str]) -> None:
    """Refuse ids that are not failed jobs (a typo, or a job already replayed or expired)."""
    failed = {job_id for queue in jobs.queues() for job_id in FailedJobRegistry(queue=queue).get_job_ids()}
    unknown = [job_id for job_id in job_ids if job_id not in failed]
    if unknown:
        raise VhubError(
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not among the failed jobs; "
            "`vhub failed list` shows the ids of those that are. Nothing was replayed.",
            code="unknown_job",
        )


def replay(jobs: Jobs, job_ids: list[str] | None = None) -> list[str]:
    """Put failed jobs back on their queues (all of them when ``job_ids`` is None). Returns the ids replayed."""
    replayed = []
    wanted = set(job_ids) if job_ids is not None else None
    for queue in jobs.queues():
        registry = FailedJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            if wanted is None or job_id in wanted:
                registry.requeue(job_id)
                replayed.append(job_id)
    return replayed
