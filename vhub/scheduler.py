"""The scheduled runs of queue/queues.toml, enqueued by rq's cron scheduler in Europe/London time.

rq's cron reads cron strings in the process's local time zone, so the scheduler process runs with its
zone set to the configured one (Europe/London): "0 1 * * *" then means 01:00 in London, winter and summer.
"""

from __future__ import annotations

import os
import time

from rq.cron import CronScheduler

from tasks.ingest import start_scan
from tasks.isr import start_isr_scan
from vhub.errors import ConfigurationError
from vhub.logs import get_logger
from vhub.queues import Jobs, QueuePolicy, connect
from vhub.settings import Settings

log = get_logger(__name__)

# Job kinds that may be scheduled, and the function that starts one run of each.
SCHEDULABLE = {"scan": start_scan, "isr_scan": start_isr_scan}


def build_scheduler(settings: Settings) -> CronScheduler:
    os.environ["TZ"] = settings.timezone
    time.tzset()
    jobs = Jobs(connect(settings.redis_url), QueuePolicy.load(settings.queue_config))
    scheduler = CronScheduler(connection=jobs.connection, name=f"vhub-scheduler-{os.getpid()}")
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
