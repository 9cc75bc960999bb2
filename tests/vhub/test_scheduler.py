"""The scheduler: schedules read in London time, each firing enqueued once (as JSON) however many schedulers run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from redis import Redis
from rq.job import Job

from vhub.errors import ConfigurationError
from vhub.queues import SERIALIZER, Jobs, QueuePolicy, Schedule
from vhub.scheduler import build_scheduler, check_schedules, fire, firings, next_firing
from vhub.settings import Settings

LONDON = ZoneInfo("Europe/London")


def all_jobs(redis_client: Redis, jobs: Jobs) -> list[Job]:
    ids = [job_id for queue in jobs.queues() for job_id in queue.job_ids]
    return [Job.fetch(job_id, connection=redis_client, serializer=SERIALIZER) for job_id in ids]


def test_two_schedulers_enqueue_each_firing_once(settings: Settings, redis_url: str, redis_client: Redis) -> None:
    """Two schedulers started by mistake, both due at the same minutes, enqueue each schedule's firing once."""
    settings = settings.model_copy(update={"redis_url": redis_url})
    schedulers = [build_scheduler(settings, name="first"), build_scheduler(settings, name="second")]
    due = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
    for scheduler in schedulers:
        for run in scheduler.get_jobs():
            run.next_enqueue_time = due  # every schedule due at the same, past minute in both
    threads = [threading.Thread(target=scheduler.enqueue_jobs) for scheduler in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    policy = QueuePolicy.load(settings.queue_config)
    enqueued = all_jobs(redis_client, Jobs(redis_client, policy))
    assert sorted(
        [
            ("tasks.decisions.check_decisions", "default"),
            ("tasks.encompass.check_encompass", "high"),
            ("tasks.ingest.start_scan", "scan"),
            ("tasks.ingest.start_scan", "scan"),
            ("tasks.isr.start_isr_scan", "scan"),
            ("tasks.morning.morning_report", "low"),
            ("tasks.referral_audit.draw_audit_sample", "low"),
            ("tasks.watch.watch", "low"),
        ]
    ) == sorted((job.func_name, job.origin) for job in enqueued)
    assert {("2026-11-30T07:30:00+00:00",)} == {tuple(job.args) for job in enqueued if job.origin != "scan"}
    for scheduler in schedulers:  # both moved on to their next firing, whichever enqueued
        assert all(run.next_enqueue_time and run.next_enqueue_time > due for run in scheduler.get_jobs())
        scheduler.connection.close()


def test_a_firing_is_claimed_per_minute(settings: Settings, redis_url: str, redis_client: Redis) -> None:
    """The same schedule at the same minute enqueues once; at the next minute it enqueues again."""
    jobs = Jobs(redis_client, QueuePolicy.load(settings.queue_config))
    schedule = Schedule("watch", "watch", "*/15 * * * *")
    first = datetime(2026, 12, 1, 3, 15, tzinfo=UTC)
    assert fire(jobs, schedule, first) is not None
    assert fire(jobs, schedule, first) is None
    assert fire(jobs, schedule, datetime(2026, 12, 1, 3, 30, tzinfo=UTC)) is not None
    assert 2 == len(all_jobs(redis_client, jobs))
    check = fire(jobs, Schedule("encompass_check", "encompass_check", "30 7 * * 1-5"), first)
    assert check is not None and [30, 120] == check.retry_intervals  # the job kind's retries, from queues.toml


@pytest.mark.parametrize(
    ("after", "expected_utc"),
    [
        (datetime(2026, 12, 1, 7, 0, tzinfo=UTC), datetime(2026, 12, 1, 7, 30, tzinfo=UTC)),  # winter: GMT
        (datetime(2026, 7, 1, 5, 0, tzinfo=UTC), datetime(2026, 7, 1, 6, 30, tzinfo=UTC)),  # summer: 07:30 BST
        (datetime(2026, 12, 4, 8, 0, tzinfo=UTC), datetime(2026, 12, 7, 7, 30, tzinfo=UTC)),  # Friday: next is Monday
    ],
)
def test_cron_strings_are_london_wall_clock_time(after: datetime, expected_utc: datetime) -> None:
    """ "30 7 * * 1-5" is 07:30 in London on weekdays, GMT or BST, whatever the process's own zone."""
    assert expected_utc == next_firing("30 7 * * 1-5", LONDON, after)


def test_firings_between_two_moments_in_order() -> None:
    """A stepped clock sees every firing in the window once, in time order."""
    schedules = (Schedule("report", "morning_report", "45 7 * * *"), Schedule("check", "encompass_check", "30 7 * * *"))
    start, end = datetime(2026, 12, 1, 0, 0, tzinfo=UTC), datetime(2026, 12, 2, 7, 40, tzinfo=UTC)
    assert [
        ("check", datetime(2026, 12, 1, 7, 30, tzinfo=UTC)),
        ("report", datetime(2026, 12, 1, 7, 45, tzinfo=UTC)),
        ("check", datetime(2026, 12, 2, 7, 30, tzinfo=UTC)),
    ] == [(schedule.name, moment) for moment, schedule in firings(schedules, LONDON, start, end)]


def test_a_bad_schedule_is_refused_with_its_name(settings: Settings) -> None:
    """A cron string that does not parse stops the scheduler, naming the schedule and the form it wants."""
    policy = QueuePolicy.load(settings.queue_config)
    bad = QueuePolicy(**{**policy.__dict__, "schedules": (Schedule("morning_report", "morning_report", "45 7 * *"),)})
    with pytest.raises(ConfigurationError, match="'morning_report' has cron '45 7 \\* \\*'"):
        check_schedules(bad)


def test_the_hour_the_clocks_go_back_fires_once() -> None:
    """01:30 happens twice on the last Sunday of October (BST, then GMT): a daily 01:30 schedule fires at the first."""
    schedules = (Schedule("night", "scan", "30 1 * * *"),)
    start, end = datetime(2026, 10, 24, 23, 0, tzinfo=UTC), datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)] == [
        moment for moment, _ in firings(schedules, LONDON, start, end)
    ]
