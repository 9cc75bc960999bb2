"""Queue policy from queue/queues.toml, and the one way jobs are put on queues.

Every enqueue goes through ``Jobs.enqueue`` so each job gets its queue, time-out, retry schedule and
rate limit from configuration, never from constants in the code that enqueues it. Jobs are stored in
Redis as JSON, so their arguments are ids, strings and plain data (a time as an ISO string).
"""

from __future__ import annotations

import contextlib
import socket
import tomllib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis
from redis.exceptions import WatchError
from rq import Callback, Queue, RateLimit, Retry, Worker
from rq.exceptions import SchedulerNotFound
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job
from rq.rate_limit import RateLimitRegistry
from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE, RQScheduler
from rq.serializers import JSONSerializer
from rq.utils import as_text

from vhub.errors import BusinessError, ConfigurationError, SelectorDrift
from vhub.settings import PROJECT_ROOT

POLICY_FILE = PROJECT_ROOT / "queue" / "queues.toml"
# How every queue, job, worker and scheduler reads and writes jobs. rq's default, pickle, runs whatever
# code a job's bytes describe. JSON only holds data (and the worker runs only the tasks package's functions).
SERIALIZER = JSONSerializer
# Errors a retry cannot fix (the data is wrong, the page changed, the configuration is wrong): a job that
# raises one is failed at once, whatever retries its policy gives it.
NOT_RETRIED = (BusinessError, SelectorDrift, ConfigurationError)


@dataclass(frozen=True)
class JobPolicy:
    name: str
    queue: str
    timeout_s: int
    retry_intervals_s: tuple[int, ...]
    rate_limit: str | None


@dataclass(frozen=True)
class Schedule:
    name: str
    job: str
    cron: str


@dataclass(frozen=True)
class QueuePolicy:
    order: tuple[str, ...]
    result_ttl_s: int
    failure_ttl_s: int
    jobs: dict[str, JobPolicy]
    rate_limits: dict[str, int]
    schedules: tuple[Schedule, ...]
    maintenance_interval_s: int = 60
    heartbeat_interval_s: float = 5.0
    heartbeat_ttl_s: float = 20.0

    @classmethod
    def load(cls, path: Path = POLICY_FILE) -> QueuePolicy:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            queues = data["queues"]
            order = tuple(queues["order"])
            jobs = {
                name: JobPolicy(
                    name=name,
                    queue=spec["queue"],
                    timeout_s=int(spec["timeout_s"]),
                    retry_intervals_s=tuple(int(s) for s in spec.get("retry_intervals_s", ())),
                    rate_limit=spec.get("rate_limit"),
                )
                for name, spec in data.get("jobs", {}).items()
            }
            rate_limits = {name: int(value) for name, value in data.get("rate_limits", {}).items()}
            schedules = tuple(
                Schedule(name=name, job=spec["job"], cron=spec["cron"])
                for name, spec in data.get("schedules", {}).items()
            )
            policy = cls(
                order,
                int(queues["result_ttl_s"]),
                int(queues["failure_ttl_s"]),
                jobs,
                rate_limits,
                schedules,
                int(queues.get("maintenance_interval_s", 60)),
                float(queues.get("heartbeat_interval_s", 5)),
                float(queues.get("heartbeat_ttl_s", 20)),
            )
        except (OSError, KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as error:
            raise ConfigurationError(
                f"{path} cannot be used: {error!r}. Compare it with the documented example."
            ) from None
        policy._check(path)
        return policy

    def _check(self, path: Path) -> None:
        if self.maintenance_interval_s < 1:
            raise ConfigurationError(f"{path}: queues.maintenance_interval_s must be at least 1 second.")
        if self.heartbeat_interval_s <= 0 or self.heartbeat_ttl_s < 3 * self.heartbeat_interval_s:
            raise ConfigurationError(
                f"{path}: queues.heartbeat_ttl_s must be at least three times queues.heartbeat_interval_s (above 0), "
                "so one late heartbeat never gives a running job to another worker."
            )
        for job in self.jobs.values():
            if job.queue not in self.order:
                raise ConfigurationError(f"{path}: job '{job.name}' uses queue '{job.queue}', not in queues.order.")
            if job.rate_limit and job.rate_limit not in self.rate_limits:
                raise ConfigurationError(f"{path}: job '{job.name}' names rate limit '{job.rate_limit}', not defined.")
        for schedule in self.schedules:
            if schedule.job not in self.jobs:
                raise ConfigurationError(f"{path}: schedule '{schedule.name}' names unknown job '{schedule.job}'.")

    def job(self, name: str) -> JobPolicy:
        try:
            return self.jobs[name]
        except KeyError:
            raise ConfigurationError(f"queue/queues.toml has no [jobs.{name}] table.") from None


class Jobs:
    """Enqueues jobs by kind, applying the policy."""

    def __init__(self, connection: Redis, policy: QueuePolicy | None = None) -> None:
        self.connection = connection
        self.policy = policy or QueuePolicy.load()

    def queue(self, name: str) -> Queue:
        return Queue(name, connection=self.connection, serializer=SERIALIZER)

    def queues(self) -> list[Queue]:
        return [self.queue(name) for name in self.policy.order]

    def enqueue(
        self,
        kind: str,
        func: Callable[..., Any] | str,
        *args: Any,
        queue: str | None = None,
        description: str | None = None,
        rate_limit_key: str | None = None,
        on_failure: Callable[..., Any] | None = None,
    ) -> Job:
        """Put one job on its queue. Jobs are idempotent by design (the store decides what is new), so
        the same work enqueued twice is harmless; rq does not combine uniqueness with rate limits.

        ``rate_limit_key``: count against this external system's session cap instead of the job kind's.
        ``on_failure``: a function of the tasks package rq calls (in the worker) each time the job fails."""
        policy = self.policy.job(kind)
        retry = (
            Retry(max=len(policy.retry_intervals_s), interval=list(policy.retry_intervals_s))
            if policy.retry_intervals_s
            else None
        )
        limit = rate_limit_key or policy.rate_limit
        rate_limit = RateLimit(key=limit, concurrency=self.policy.rate_limits.get(limit, 1)) if limit else None
        return self.queue(queue or policy.queue).enqueue_call(
            func,  # type: ignore[type-var]  # rq takes a function or its dotted path
            args=args,
            timeout=policy.timeout_s,
            result_ttl=self.policy.result_ttl_s,
            failure_ttl=self.policy.failure_ttl_s,
            retry=retry,
            rate_limit=rate_limit,
            description=description,
            on_failure=Callback(on_failure) if on_failure else None,
        )

    def running(self, func: str, first_arg: Any) -> bool:
        """Whether a worker is running ``func`` on ``first_arg`` right now (its job is in a started registry)."""
        for queue in self.queues():
            ids = StartedJobRegistry(queue=queue).get_job_ids()
            for job in Job.fetch_many(ids, connection=self.connection, serializer=SERIALIZER):
                if job is not None and job.func_name == func and list(job.args[:1]) == [first_arg]:
                    return True
        return False

    def in_flight(self) -> int:
        """Jobs not yet ended: queued, taken by a worker (rq moves a job to its queue's intermediate list before
        it enters the started registry: counted there, a job was in flight and no figure showed it), running,
        scheduled (retry back-off), waiting on other jobs, or held back by a rate limit."""
        total = 0
        for queue in self.queues():
            total += queue.count + int(self.connection.llen(queue.intermediate_queue_key))
            total += sum(
                registry(queue=queue).count
                for registry in (StartedJobRegistry, ScheduledJobRegistry, DeferredJobRegistry)
            )
        total += sum(len(limit.get_rate_limited_job_ids()) for limit in RateLimitRegistry.all(self.connection))
        return total

    def reclaim(self, worker_names: Collection[str], *, alive: Callable[[int], bool]) -> list[str]:
        """Give back what dead workers held: each job they were running is retried (or failed, once its
        retries are spent) as rq does an abandoned job, its external system's session slot is freed, the
        workers leave rq's list, and a scheduler lock held by a process of this host that is gone (not
        ``alive``) is freed for a live worker to take. Returns the ids of the jobs given back.

        Only for workers whose processes are known to be gone: a slow worker's job would run twice."""
        names = set(worker_names)
        reclaimed: list[str] = []
        for queue in self.queues():
            registry = StartedJobRegistry(queue=queue)
            held: list[str] = []
            for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
                owner = self.connection.hget(Execution(execution_id, job_id, self.connection).key, "worker_name")
                if owner is None or as_text(owner) not in names:
                    continue
                # rq gives a job up once its execution's heartbeat has run out: make it run out now.
                self.connection.zadd(registry.key, {f"{job_id}:{execution_id}": 1}, xx=True)
                self.connection.zadd(ExecutionRegistry(job_id, self.connection).key, {execution_id: 1}, xx=True)
                held.append(job_id)
            if held:
                registry.cleanup()  # retried or failed, failure callbacks called, slots freed
                reclaimed += held
        for name in names:
            worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=self.connection)
            if worker is not None:
                worker.register_death()
        self._free_dead_scheduler_locks(alive)
        return reclaimed

    def _free_dead_scheduler_locks(self, alive: Callable[[int], bool]) -> None:
        """Delete the scheduler locks held by schedulers of this host whose process is gone (rq would keep
        them a minute, and start no retry meanwhile)."""
        for name in self.policy.order:
            key = SCHEDULER_LOCKING_KEY_TEMPLATE % name
            holder = self.connection.get(key)
            if holder is None:
                continue
            try:
                scheduler = RQScheduler.fetch(as_text(holder), self.connection)
            except SchedulerNotFound:  # its record expired: the lock lapses on its own within a minute
                continue
            if scheduler.hostname != socket.gethostname() or alive(scheduler.pid):
                continue
            # Deleted only if it still names that scheduler (a live one may have taken it meanwhile).
            with contextlib.suppress(WatchError), self.connection.pipeline() as pipeline:
                pipeline.watch(key)
                if pipeline.get(key) == holder:
                    pipeline.multi()
                    pipeline.delete(key)
                    pipeline.execute()


def connect(url: str) -> Redis:
    """A client that gives up connecting after 5 s (a Redis host dropping packets must not hang a page)."""
    return Redis.from_url(url, socket_connect_timeout=5)
