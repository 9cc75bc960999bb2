"""Failed jobs for an admin: listed with their reason, whatever form rq stored them in."""

from __future__ import annotations

import math

from redis import Redis
from rq import Queue, SimpleWorker

from vhub.failed import UNREADABLE, list_failed
from vhub.queues import Jobs


def test_a_job_not_stored_as_json_is_listed_without_unpickling_it(redis_client: Redis) -> None:
    """A job that failed in rq's old pickle form is listed with its reason; its call is not read, not run."""
    queue = Queue("default", connection=redis_client)  # rq's default serializer, as before jobs were JSON
    job = queue.enqueue(math.sqrt, -1)
    SimpleWorker([queue], connection=redis_client).work(burst=True)
    listed = [(failed.id, failed.function, failed.args, failed.reason) for failed in list_failed(Jobs(redis_client))]
    assert [(job.id, "?", UNREADABLE, "ValueError: math domain error")] == listed
