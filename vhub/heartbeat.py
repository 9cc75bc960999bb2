"""Short heartbeats for running jobs, so a worker that dies on any host gives its job back in seconds.

rq's SimpleWorker gives a running job's execution its time-out plus a minute and never renews it: a worker killed
mid-submission held its job, and its portal's session slot, for 11 minutes. Here a thread of each worker renews
its running job's execution every ``heartbeat_interval_s`` for ``heartbeat_ttl_s`` (queue/queues.toml), and
sweeps: a job whose execution's heartbeat lapsed is given up as rq gives up an abandoned job (retried, or failed
once its retries are spent, its session slot freed), under rq's own maintenance lock, so two sweepers never
handle one job twice. Times are each host's clock, as rq's own are: hosts keep their clocks in step (NTP).

A slow job keeps its job: the thread renews whatever the job is doing. A worker that cannot renew (cut off from
Redis, paused, or finding its job given up to another) stops itself, exit code 75, before another worker may take
the job over, and ``guard`` makes the same check just before a bot's final post: a job never runs twice at once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import RedisError, WatchError
from rq import Queue
from rq.executions import Execution, ExecutionRegistry
from rq.registry import StartedJobRegistry
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE

from vhub.logs import get_logger

log = get_logger(__name__)

LOST = 75
"""The exit code of a worker that stopped itself because it could no longer keep its job's heartbeat."""
SCHEDULER_LOCK_S = 61
"""How long rq's scheduler holds its lock on a queue (its 1 s interval plus a minute), renewing it every second."""
SCHEDULER_STALE_S = 30
"""A scheduler lock not renewed for this long belongs to a scheduler that died (with its worker, on any host): it is
freed so a live worker's scheduler takes the role at its next maintenance, instead of after a minute more."""


def _stop_process() -> None:
    os._exit(LOST)  # not SystemExit: nothing of the job (a post, a commit) may run on in any thread


class ExecutionHeartbeat:
    """The heartbeat thread of one worker process: renews the running job's execution and sweeps lapsed ones."""

    def __init__(
        self,
        connection: Redis,
        queues: list[Queue],
        *,
        interval_s: float,
        ttl_s: float,
        stop_process: Callable[[], None] = _stop_process,
    ) -> None:
        self.connection = connection
        self.queues = queues
        self.interval_s = interval_s
        self.ttl_s = ttl_s
        self._stop_process = stop_process
        self._lock = threading.Lock()  # a renewal and the end of a job never interleave
        self._held: tuple[StartedJobRegistry, Execution] | None = None
        self._renewed_at = 0.0  # time.monotonic() of the last renewal Redis took
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_s = max(10, int(ttl_s))

    # ----------------------------------------------------------------- the worker's side
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vhub-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self.interval_s + 5)

    @contextmanager
    def holding(self, queue: Queue, execution: Execution) -> Iterator[None]:
        """Keep ``execution`` alive while the job runs; its first short heartbeat is written before the job starts."""
        with self._lock:
            self._held = (queue.started_job_registry, execution)
            self._renew_held()
        try:
            yield
        finally:
            with self._lock:
                self._held = None

    def guard(self) -> None:
        """Just before an irreversible step: stop the process if the job may already be another worker's (its
        heartbeat is late, or its execution is no longer in the started registry)."""
        with self._lock:
            if self._held is None:
                return
            if not self._fresh():
                self._lost("its heartbeat was not renewed in time")
            registry, execution = self._held
            try:
                score = self.connection.zscore(registry.key, execution.composite_key)
            except RedisError:
                score = None
            if score is None or score < time.time():
                self._lost("it may have been given up to another worker")

    # ----------------------------------------------------------------- the thread
    def _run(self) -> None:
        while not self._stopping.wait(self.interval_s):
            self.tick()

    def tick(self) -> None:
        """One beat: renew the running job's execution, then sweep lapsed jobs (a dead scheduler's locks are freed by
        the worker's maintenance, just before rq takes the role: VhubWorker.run_maintenance_tasks)."""
        with self._lock:
            if self._held is not None:
                self._renew_held()
        try:
            self.sweep()
        except Exception as error:  # noqa: BLE001 - the renewals must go on whatever a sweep meets
            log.error("sweep failed", error=type(error).__name__)

    def _fresh(self) -> bool:
        # Another worker may take the job once ttl_s has passed since the last renewal: stop a full interval sooner.
        return time.monotonic() - self._renewed_at <= self.ttl_s - self.interval_s

    def _renew_held(self) -> None:
        assert self._held is not None
        registry, execution = self._held
        started = time.monotonic()
        try:
            expires = time.time() + self.ttl_s
            with self.connection.pipeline() as pipeline:
                pipeline.zadd(registry.key, {execution.composite_key: expires}, xx=True, ch=True)
                executions = ExecutionRegistry(execution.job_id, self.connection)
                pipeline.zadd(executions.key, {execution.id: expires}, xx=True)
                pipeline.expire(execution.key, int(self.ttl_s) + 1)
                changed = pipeline.execute()[0]
        except RedisError as error:
            log.warning("job heartbeat not renewed", error=type(error).__name__)
            if not self._fresh():
                self._lost("Redis could not be reached to renew its heartbeat")
            return
        if not changed:
            self._lost("it was given up to another worker")
            return
        self._renewed_at = started

    def _lost(self, why: str) -> None:
        assert self._held is not None
        job_id = self._held[1].job_id
        log.error("job heartbeat lost; this worker stops so the job never runs twice", why=why, job_id=job_id)
        self._stop_process()

    def free_stale_scheduler_locks(self) -> list[str]:
        """Free the scheduler locks not renewed for ``SCHEDULER_STALE_S`` (rq's scheduler renews them every second):
        retries wait for a scheduler, and a dead one would hold the role a minute more. The queues freed."""
        freed = []
        for queue in self.queues:
            key = SCHEDULER_LOCKING_KEY_TEMPLATE % queue.name
            try:
                with self.connection.pipeline() as pipeline:
                    pipeline.watch(key)
                    left = pipeline.ttl(key)
                    if not 0 <= left < SCHEDULER_LOCK_S - SCHEDULER_STALE_S:
                        continue
                    pipeline.multi()
                    pipeline.delete(key)  # only if no live scheduler renewed it meanwhile (the watch)
                    pipeline.execute()
                    freed.append(queue.name)
            except WatchError:
                continue
            except RedisError as error:
                log.warning("scheduler locks not checked", error=type(error).__name__)
                break
        if freed:
            log.warning("freed the scheduler role a stopped worker held", queues=freed)
        return freed

    def sweep(self) -> list[str]:
        """Give up the jobs whose heartbeat lapsed (their worker died or stopped itself); their ids."""
        swept: list[str] = []
        try:
            now = time.time()
            for queue in self.queues:
                registry = queue.started_job_registry
                lapsed = registry.get_expired_job_ids(now)
                # rq's own maintenance lock, held a short while (rq's lasts 15 minutes if its holder dies).
                if not lapsed or not self.connection.set(queue.registry_cleaning_key, 1, nx=True, ex=self._lock_s):
                    continue  # nothing lapsed, or rq's own maintenance is cleaning this queue right now
                try:
                    registry.cleanup(timestamp=now)  # retried or failed as rq does, failure callbacks, slots freed
                finally:
                    queue.release_maintenance_lock()
                swept += lapsed
        except RedisError as error:
            log.warning("lapsed jobs not swept", error=type(error).__name__)
        if swept:
            log.warning("gave back jobs whose worker stopped", jobs=swept)
        return swept


_current: ExecutionHeartbeat | None = None


def use(heartbeat: ExecutionHeartbeat | None) -> None:
    """Make ``heartbeat`` this process's (a worker does as it starts)."""
    global _current
    _current = heartbeat


def guard() -> None:
    """Just before a final post: in a worker, stop at once if the running job may already be another worker's;
    outside a worker (a test, a one-off command) nothing to check."""
    if _current is not None:
        _current.guard()
