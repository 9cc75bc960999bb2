"""The scheduler: each scheduled run is enqueued as JSON, the only form the workers read."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from redis import Redis
from rq.job import Job

from vhub.queues import SERIALIZER
from vhub.scheduler import build_scheduler
from vhub.settings import Settings


@pytest.fixture
def own_time_zone() -> Iterator[None]:
    """build_scheduler sets the process's time zone; put it back for the tests that follow."""
    before = os.environ.get("TZ")
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("own_time_zone")
def test_scheduled_runs_are_enqueued_as_json(settings: Settings, redis_url: str, redis_client: Redis) -> None:
    """Each schedule of queue/queues.toml puts its start function on its queue in a form the workers read."""
    scheduler = build_scheduler(settings.model_copy(update={"redis_url": redis_url}))
    enqueued = [cron_job.enqueue(scheduler.connection) for cron_job in scheduler.get_jobs()]
    scheduler.connection.close()
    fetched = [Job.fetch(job.id, connection=redis_client, serializer=SERIALIZER) for job in enqueued]
    assert [("tasks.ingest.start_scan", "scan"), ("tasks.isr.start_isr_scan", "scan")] == sorted(
        (job.func_name, job.origin) for job in fetched
    )
