"""Failed jobs as a worker leaves them, for the tests of what an admin does with them: the job in Redis as rq
stores it, its failure result with the error's text, the failed registry, and evidence folders named as the
browser session names them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from rq.results import Result

from vhub.queues import Jobs


def stage_failed(jobs: Jobs, kind: str, func: Callable[..., Any] | str, *args: Any, error: str) -> str:
    """Enqueue a job as vhub does, then fail it with ``error`` as its traceback's last line; returns its id."""
    job = jobs.enqueue(kind, func, *args)
    queue = jobs.queue(job.origin)
    queue.remove(job)
    job.set_status(JobStatus.FAILED)
    traceback = f'Traceback (most recent call last):\n  File "tasks/x.py", line 1, in run\n{error}\n'
    Result.create_failure(job, 3600, traceback)
    job.ended_at = job.enqueued_at
    job.save()
    FailedJobRegistry(queue=queue).add(job, ttl=3600, exc_string=traceback)
    return job.id


def stage_evidence(evidence_dir: Path, job_id: str, *, stamp: str = "20261201T020500000000Z") -> Path:
    """An evidence folder of one failed attempt, as vhub.browser names it, with a screenshot, a trace and the page,
    and a file that is not on the list of files ever served."""
    folder = evidence_dir / "records_system" / f"{stamp}-failure-{job_id}-incident-7"
    folder.mkdir(parents=True)
    (folder / "screenshot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"synthetic screenshot")
    (folder / "trace.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (folder / "page.html").write_text("<html><script>alert(1)</script>synthetic page</html>", encoding="utf-8")
    (folder / "notes.txt").write_text("not on the list", encoding="utf-8")
    return folder
