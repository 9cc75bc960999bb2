"""The scheduled runs of queue/queues.toml, in Europe/London time, each firing enqueued once however many
schedulers run.

A schedule's cron string is read in the configured zone (Europe/London): "0 1 * * *" is 01:00 in London,
winter and summer. Before a firing is enqueued it is claimed in Redis (SET NX, with an expiry) under the
schedule's name and the minute it is for, so a second scheduler started by mistake, or a simulated night
stepping a clock, enqueues nothing twice. rq's cron scheduler does the waiting; its jobs are enqueued as JSON
(vhub's workers refuse pickle).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from redis import Redis
from rq import Retry, cron_job_registry
from rq.cron import CronJob, CronScheduler
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.job import Job
from rq.utils import now

from tasks.decisions import check_decisions
from tasks.encompass import check_encompass
from tasks.ingest import start_scan
from tasks.isr import start_isr_scan
from tasks.morning import morning_report
from tasks.referral_audit import draw_audit_sample
from tasks.watch import watch
from vhub.alerts import unset_channels
from vhub.errors import ConfigurationError
from vhub.logs import get_logger
from vhub.mou import mou_config
from vhub.queues import Jobs, QueuePolicy, Schedule, connect
from vhub.referral_audit import audit_config
from vhub.settings import Settings

log = get_logger(__name__)

SCHEDULABLE: dict[str, Callable[..., Any]] = {
    "scan": start_scan,
    "isr_scan": start_isr_scan,
    "encompass_check": check_encompass,
    "morning_report": morning_report,
    "watch": watch,
    "decision_check": check_decisions,
    "audit_sample": draw_audit_sample,
}
"""Job kinds that may be scheduled, and the function that starts one run of each."""
TIMED = frozenset({"encompass_check", "morning_report", "watch", "decision_check", "audit_sample"})
"""Job kinds whose function is given the moment it fires for (ISO, UTC): "today" and "yesterday" are that
moment's, so a firing run late, or on a simulated clock, still checks the day it was for."""
CLAIM_TTL_S = 2 * 86400
"""How long a firing's claim is kept: long after any scheduler could still be due to fire it."""
_CLAIM = "vhub:schedule-fired:{}:{:%Y-%m-%dT%H:%MZ}"


def claim(connection: Redis, schedule: str, minute: datetime) -> bool:
    """True for exactly one caller per schedule and minute: the one that is to enqueue that firing."""
    key = _CLAIM.format(schedule, minute.astimezone(UTC))
    return bool(connection.set(key, datetime.now(UTC).isoformat(), nx=True, ex=CLAIM_TTL_S))


def next_firing(cron: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first moment after ``after`` (aware) that ``cron``, read as wall-clock time in ``zone``, names; in UTC.
    A wall-clock time that happens twice (the autumn hour) fires at its first; one skipped in spring fires an
    hour later, as the clock reads then."""
    times = croniter(cron, after.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0))
    while True:
        local: datetime = times.get_next(datetime)
        candidate = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if candidate > after:
            return candidate


def firings(
    schedules: tuple[Schedule, ...], zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[datetime, Schedule]]:
    """Every firing of ``schedules`` after ``start`` up to ``end``, in time order (then schedule order)."""
    due: list[tuple[datetime, int, Schedule]] = []
    for order, schedule in enumerate(schedules):
        moment = next_firing(schedule.cron, zone, start)
        while moment <= end:
            due.append((moment, order, schedule))
            moment = next_firing(schedule.cron, zone, moment)
    for moment, _, schedule in sorted(due, key=lambda item: (item[0], item[1])):
        yield moment, schedule


def check_schedules(policy: QueuePolicy) -> None:
    """Refuse a schedule whose job cannot be scheduled, or whose cron string does not parse."""
    for schedule in policy.schedules:
        if schedule.job not in SCHEDULABLE:
            raise ConfigurationError(
                f"queue/queues.toml: schedule '{schedule.name}' names job '{schedule.job}', which cannot be "
                f"scheduled; choose one of: {', '.join(SCHEDULABLE)}."
            )
        if not croniter.is_valid(schedule.cron):
            raise ConfigurationError(
                f"queue/queues.toml: schedule '{schedule.name}' has cron '{schedule.cron}', which is not a cron "
                'string (minute hour day-of-month month day-of-week, e.g. "30 7 * * 1-5").'
            )


def fire(jobs: Jobs, schedule: Schedule, minute: datetime) -> Job | None:
    """Enqueue the firing of ``schedule`` for ``minute`` unless another scheduler claimed it; the job, or None."""
    if not claim(jobs.connection, schedule.name, minute):
        log.info("firing already enqueued by another scheduler", schedule=schedule.name, minute=minute.isoformat())
        return None
    policy = jobs.policy.job(schedule.job)
    intervals = list(policy.retry_intervals_s)
    job = jobs.queue(policy.queue).enqueue_call(
        SCHEDULABLE[schedule.job],
        args=(minute.astimezone(UTC).isoformat(),) if schedule.job in TIMED else (),
        timeout=policy.timeout_s,
        result_ttl=jobs.policy.result_ttl_s,
        failure_ttl=jobs.policy.failure_ttl_s,
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
        description=f"{schedule.name} ({schedule.cron})",
    )
    log.info("scheduled run enqueued", schedule=schedule.name, queue=policy.queue, job_id=job.id)
    return job


class ScheduledRun(CronJob):
    """One schedule in rq's cron scheduler: due by its cron string in ``zone``, enqueued by ``fire``."""

    def __init__(self, jobs: Jobs, schedule: Schedule, zone: ZoneInfo) -> None:
        self.jobs, self.schedule, self.zone = jobs, schedule, zone  # before rq computes the first firing
        super().__init__(
            queue_name=jobs.policy.job(schedule.job).queue,
            func=SCHEDULABLE[schedule.job],
            cron=schedule.cron,
            name=schedule.name,
        )

    def get_next_enqueue_time(self) -> datetime:
        return next_firing(self.schedule.cron, self.zone, self.latest_enqueue_time or now())

    def enqueue(self, connection: Redis) -> Job | None:  # type: ignore[override]  # None: claimed elsewhere
        assert self.next_enqueue_time is not None  # a cron schedule always has its next firing
        job = fire(self.jobs, self.schedule, self.next_enqueue_time)
        if job is not None and job.enqueued_at is not None:  # rq's own record of what each cron job enqueued
            with connection.pipeline() as pipeline:
                pipeline.zadd(self.job_history_key, {job.id: job.enqueued_at.timestamp()})
                pipeline.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
                pipeline.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
                cron_job_registry.add(self.name, pipeline, enqueue_timestamp=job.enqueued_at.timestamp())
                pipeline.execute()
        return job


class ClaimingCronScheduler(CronScheduler):
    """rq's cron scheduler over vhub's schedules."""

    def add(self, run: ScheduledRun) -> None:
        self._cron_jobs.append(run)


def build_scheduler(settings: Settings, *, name: str | None = None) -> ClaimingCronScheduler:
    jobs = Jobs(connect(settings.redis_url), QueuePolicy.load(settings.queue_config))
    check_schedules(jobs.policy)
    mou_config()  # the decision check escalates by it: a mistake stops the scheduler, naming what to fix
    audit_config()  # the audit sample is drawn by it: likewise
    scheduler = ClaimingCronScheduler(connection=jobs.connection, name=name or "")
    for schedule in jobs.policy.schedules:
        scheduler.add(ScheduledRun(jobs, schedule, settings.tz))
        log.info("scheduled", schedule=schedule.name, cron=schedule.cron, timezone=settings.timezone)
    return scheduler


def run_scheduler(settings: Settings) -> None:
    if not settings.redis_url:
        raise SystemExit("vhub scheduler needs VHUB_REDIS_URL (or use `vhub up`).")
    if unset := unset_channels(settings):  # the checks still run; what they would tell is logged and audited
        log.warning("alert channels not set: their alerts are only logged and audited", settings=unset)
    build_scheduler(settings).start()


def enqueue_now(jobs: Jobs, kind: str) -> Job:
    """Queue one run of a schedulable job kind now, by hand (no firing is claimed: a person asked for it)."""
    if kind not in SCHEDULABLE:
        raise ConfigurationError(f"'{kind}' cannot be run; choose one of: {', '.join(SCHEDULABLE)}.")
    return jobs.enqueue(kind, SCHEDULABLE[kind], description=f"{kind} (by hand)")
