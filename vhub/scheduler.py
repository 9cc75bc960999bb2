"""The scheduled runs of queue/queues.toml, enqueued by rq's cron scheduler in Europe/London time.

rq's cron reads cron strings in the process's local time zone, so the scheduler process runs with its
zone set to the configured one (Europe/London): "0 1 * * *" then means 01:00 in London, winter and summer.
rq's cron enqueues with pickle, which vhub's workers refuse, so its jobs are enqueued as JSON here.
"""

from __future__ import annotations

import os
import time
from typing import Any

from redis import Redis
from rq import Queue, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job

from tasks.ingest import start_scan
from tasks.isr import start_isr_scan
from vhub.errors import ConfigurationError
from vhub.logs import get_logger
from vhub.queues import SERIALIZER, Jobs, QueuePolicy, connect
from vhub.settings import Settings

log = get_logger(__name__)

# Job kinds that may be scheduled, and the function that starts one run of each.
SCHEDULABLE = {"scan": start_scan, "isr_scan": start_isr_scan}


class _JsonCronJob(CronJob):
    def enqueue(self, connection: Redis) -> Job:
        """rq's ``CronJob.enqueue`` (the job, its history and the cron registry in one round trip), as JSON."""
        assert self.func is not None  # a registered cron job always has its function
        queue = Queue(self.queue_name, connection=connection, serializer=SERIALIZER)
        with connection.pipeline() as pipeline:
            job = queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options, pipeline=pipeline)
            assert job.enqueued_at is not None
            pipeline.zadd(self.job_history_key, {job.id: job.enqueued_at.timestamp()})
            pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            cron_job_registry.add(self.name, pipeline, enqueue_timestamp=job.enqueued_at.timestamp())
            pipeline.execute()
        log.info("scheduled run enqueued", schedule=self.name, queue=self.queue_name, job_id=job.id)
        return job


class JsonCronScheduler(CronScheduler):
    """rq's cron scheduler, its jobs enqueued as JSON."""

    def register(self, *args: Any, **kwargs: Any) -> CronJob:
        cron_job = super().register(*args, **kwargs)
        cron_job.__class__ = _JsonCronJob  # rq builds and checks the job; only how it is enqueued changes
        return cron_job


def build_scheduler(settings: Settings) -> CronScheduler:
    os.environ["TZ"] = settings.timezone
    time.tzset()
    jobs = Jobs(connect(settings.redis_url), QueuePolicy.load(settings.queue_config))
    scheduler = JsonCronScheduler(connection=jobs.connection, name=f"vhub-scheduler-{os.getpid()}")
    for schedule in jobs.policy.schedules:
        if schedule.job not in SCHEDULABLE:
            raise ConfigurationError(
                f"queue/queues.toml: schedule '{schedule.name}' names job '{schedule.job}', which cannot be "
                f"scheduled; choose one of: {', '.join(SCHEDULABLE)}."
            )
        policy = jobs.policy.job(schedule.job)
        scheduler.register(
            SCHEDULABLE[schedule.job],
            queue_name=policy.queue,
            cron=schedule.cron,
            job_timeout=60,
            name=schedule.name,
        )
        log.info("scheduled", schedule=schedule.name, cron=schedule.cron, timezone=settings.timezone)
    return scheduler


def run_scheduler(settings: Settings) -> None:
    if not settings.redis_url:
        raise SystemExit("vhub scheduler needs VHUB_REDIS_URL (or use `vhub up`).")
    build_scheduler(settings).start()
