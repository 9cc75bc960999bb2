"""The rq worker vhub runs: in-process jobs so each worker keeps its browser between jobs.

Jobs run in the worker process (rq's SimpleWorker), so a bot's browser and signed-in session survive
from one job to the next. Jobs are read as JSON, never unpickled. Each job starts and ends with a clean
log context (its job id only; the values remembered for redaction forgotten), so nothing of one job
reaches the next one's lines; only functions of the tasks package run (rq would call any dotted path a job
names); a failure's traceback is redacted before rq stores it; business errors,
selector drift and configuration errors are never retried: a retry cannot fix them.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from types import TracebackType
from typing import Any

from rq import Queue, SimpleWorker
from rq.exceptions import DeserializationError
from rq.job import Job

from vhub import browser, heartbeat, logs, redaction
from vhub.errors import ConfigurationError
from vhub.queues import NOT_RETRIED, SERIALIZER, Jobs, QueuePolicy, connect
from vhub.settings import Settings

log = logs.get_logger(__name__)


def _no_retry_for_permanent_errors(
    job: Job, exc_type: type[BaseException], exc_value: BaseException, traceback: TracebackType | None
) -> bool:
    if isinstance(exc_value, NOT_RETRIED):
        job.retries_left = 0
        log.warning("not retried", job_id=job.id, error=getattr(exc_value, "code", exc_type.__name__))
    return True  # let rq's default handling go on


TASKS = ("tasks.",)
"""The job functions a worker runs: vhub's own tasks package. rq imports and calls whatever dotted path a job
names, so a job written into Redis by anyone else (naming ``os.system``, say) is failed unrun."""


class RefusedJob(ConfigurationError):
    code = "refused_job"


class VhubWorker(SimpleWorker):
    def __init__(
        self,
        *args: Any,
        allowed: tuple[str, ...] = TASKS,
        beat: heartbeat.ExecutionHeartbeat | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **{**kwargs, "serializer": SERIALIZER})  # never pickle, whatever the caller says
        self.allowed = allowed
        self.beat = beat

    def run_maintenance_tasks(self) -> None:
        """rq's maintenance, which takes the scheduler role where it is free, after freeing the role of a scheduler
        that stopped renewing it. In this order and this thread: freed from the heartbeat's thread, a lock could go
        while rq was taking the others, and the scheduler start with some queues only (the rest waited 2 minutes
        for rq's fallback, their retries with them)."""
        if self.beat is not None:
            self.beat.free_stale_scheduler_locks()
        super().run_maintenance_tasks()

    def stop_scheduler(self) -> None:
        """rq's, safe against a stop in the instant after the scheduler's fork. Until the child has put in its own
        signal handlers it runs this worker's: a SIGTERM then raised StopRequested in the fork outside
        multiprocessing's guard, and the fork went on as a second copy of this process while this one waited on it
        for ever. So wait (at most 5 s) until the scheduler has registered itself, which it does after its
        handlers, then stop it, and kill it if it is not gone 10 s later."""
        process = self.scheduler._process if self.scheduler is not None else None
        if process is None or not process.pid:
            return
        key, pid, deadline = self.scheduler.key, str(process.pid).encode(), time.monotonic() + 5
        while process.is_alive() and time.monotonic() < deadline and self.connection.hget(key, "pid") != pid:
            time.sleep(0.02)
        try:
            os.kill(process.pid, signal.SIGTERM)
        except OSError:
            pass  # already gone
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()

    def perform_job(self, job: Job, queue: Queue, execution: Any) -> bool:
        try:
            name = job.func_name or ""
        except DeserializationError:
            return bool(super().perform_job(job, queue, execution))  # rq fails it unread, as it must
        # rq imports and calls the job's callbacks by the names stored with it too: the same rule holds for them.
        callbacks = ("_success_callback_name", "_failure_callback_name", "_stopped_callback_name")
        foreign = [str(getattr(job, attr)) for attr in callbacks if getattr(job, attr, None)]
        foreign = [named for named in [name, *foreign] if not named.startswith(self.allowed)]
        if foreign:
            for attr in callbacks:
                setattr(job, attr, None)  # this worker's copy only; Redis is unchanged

            def refuse() -> Any:
                raise RefusedJob(
                    f"Job {job.id} names {', '.join(map(repr, foreign))}, not vhub tasks: it was not run. Someone "
                    "able to write to this Redis may have put it there: check who can reach it, then discard the job."
                )

            job.perform = refuse  # type: ignore[method-assign]
        if self.beat is not None:
            perform, beat = job.perform, self.beat

            def perform_held() -> Any:
                with beat.holding(queue, execution):  # short heartbeats while the job itself runs
                    return perform()

            job.perform = perform_held  # type: ignore[method-assign]
        return bool(super().perform_job(job, queue, execution))

    def execute_job(self, job: Job, queue: Queue) -> None:
        logs.new_context(job_id=job.id, queue=queue.name)
        try:
            super().execute_job(job, queue)
        finally:
            logs.new_context()

    def handle_job_failure(
        self, job: Job, queue: Queue, started_job_registry: Any = None, exc_string: str = "", execution: Any = None
    ) -> None:
        super().handle_job_failure(job, queue, started_job_registry, redaction.redact_text(exc_string), execution)


def run_worker(settings: Settings, *, burst: bool = False, name: str | None = None) -> bool:
    """Work the queues in priority order until stopped (or, with ``burst``, until they are empty)."""
    if not settings.redis_url:
        raise SystemExit("vhub worker needs VHUB_REDIS_URL (or use `vhub up`, which starts its own Redis).")
    jobs = Jobs(connect(settings.redis_url), QueuePolicy.load(settings.queue_config))
    beat = heartbeat.ExecutionHeartbeat(
        jobs.connection,
        jobs.queues(),
        interval_s=jobs.policy.heartbeat_interval_s,
        ttl_s=jobs.policy.heartbeat_ttl_s,
    )
    worker = VhubWorker(
        jobs.queues(),
        connection=jobs.connection,
        name=name or f"{socket.gethostname()}.{os.getpid()}",
        exception_handlers=[_no_retry_for_permanent_errors],
        maintenance_interval=jobs.policy.maintenance_interval_s,
        # An idle worker waits for work this long less 15 s before it looks again; tied to the maintenance
        # interval, so an idle worker also does its maintenance on time (rq's default waits almost 7 min).
        worker_ttl=jobs.policy.maintenance_interval_s + 15,
        beat=beat,
    )
    heartbeat.use(beat)
    beat.start()
    try:
        return worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level.upper())
    finally:
        beat.stop()
        heartbeat.use(None)
        browser.close_all()
