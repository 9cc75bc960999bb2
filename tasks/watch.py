"""The watch through the night and day: repeated failures, portals still paused and deadlines about to be missed,
each told to the right Teams channel once.

Failed jobs: the admins are told when the failed jobs waiting reach the threshold
(VHUB_FAILURE_ALERT_THRESHOLD), and again only when more fail after that; once they are replayed or discarded
below it, the next rise is told again. A paused portal: a reminder each day it stays paused (the pause itself is
alerted when it happens). Deadlines: each draft still not sent within VHUB_DEADLINE_WARNING_HOURS of its deadline
goes to the duty sergeant's channel once, by draft and incident reference.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from vhub import logs
from vhub.alerts import Alert, send
from vhub.clock import moment, uk_day, uk_time
from vhub.context import current
from vhub.failed import list_failed
from vhub.portals import all_paused
from vhub.reports.morning import WORKFLOWS
from vhub.store.draft_status import DraftStatus
from vhub.store.tables import DraftRow

log = logs.get_logger(__name__)

CLAIM_TTL_S = 3 * 86400
_FAILED_TOLD = "vhub:watch:failed-jobs-told"
_PAUSED_TOLD = "vhub:watch:paused:{}:{}"  # portal, day
_DEADLINE_TOLD = "vhub:watch:deadline:{}:{}"  # draft id, content version
NOT_SENT = (DraftStatus.AWAITING_REVIEW, DraftStatus.RETURNED, DraftStatus.APPROVED, DraftStatus.SENDING)


def watch(at: str | None = None) -> dict[str, int]:
    """Look once; returns how many alerts of each kind it raised."""
    logs.bind(step="watch")
    when = moment(at)
    raised = {"failures": _failures(), "paused_portals": _paused(when), "deadlines": _deadlines(when)}
    log.info("watch done", **raised)
    return raised


def failed_jobs_by_function() -> Counter[str]:
    """Failed jobs waiting for an admin, by the job's function (its kind of work), across every queue."""
    return Counter(job.function.rsplit(".", 1)[-1] for job in list_failed(current().jobs))


def _failures() -> int:
    ctx = current()
    failed = failed_jobs_by_function()
    total = sum(failed.values())
    connection = ctx.jobs.connection
    told = int(connection.get(_FAILED_TOLD) or 0)
    if total < ctx.settings.failure_alert_threshold:
        if told:
            connection.delete(_FAILED_TOLD)  # cleared: the next rise past the threshold is told again
        return 0
    if total <= told:
        return 0
    connection.set(_FAILED_TOLD, total)
    alert = Alert(
        title=f"{total} failed jobs are waiting for an admin",
        facts={"Failed jobs": total, **{f"{name} jobs": count for name, count in failed.most_common()}},
        lines=("See `vhub failed list` (what failed and why) and runbooks/failed-jobs.md.",),
        channel="admins",
    )
    send(ctx.settings, ctx.db, alert, subject="failed-jobs")
    return 1


def _paused(when: Any) -> int:
    ctx = current()
    raised = 0
    day = uk_day(when)
    for portal, reason in sorted(all_paused(ctx.jobs.connection).items()):
        if not ctx.jobs.connection.set(_PAUSED_TOLD.format(portal, day), "1", nx=True, ex=CLAIM_TTL_S):
            continue
        alert = Alert(
            title=f"Portal {portal} is still paused",
            facts={"Portal": portal, "Why": reason},
            lines=(f"Its submissions wait. Follow runbooks/paused-portal.md, then `vhub portals resume {portal}`.",),
            channel="admins",
        )
        send(ctx.settings, ctx.db, alert, subject=portal)
        raised += 1
    return raised


def _deadlines(when: Any) -> int:
    ctx = current()
    horizon = when + timedelta(hours=ctx.settings.deadline_warning_hours)
    with ctx.db.session(read_only=True) as session:
        rows = session.execute(
            select(DraftRow.id, DraftRow.content_version, DraftRow.workflow, DraftRow.source_ref, DraftRow.deadline)
            .where(DraftRow.status.in_(NOT_SENT), DraftRow.deadline > when, DraftRow.deadline <= horizon)
            .order_by(DraftRow.deadline, DraftRow.id)
        ).all()
    connection = ctx.jobs.connection
    soon = [
        row
        for row in rows
        if connection.set(_DEADLINE_TOLD.format(row.id, row.content_version), "1", nx=True, ex=CLAIM_TTL_S)
    ]
    if not soon:
        return 0
    by_kind = Counter(WORKFLOWS.get(row.workflow, row.workflow) for row in soon)
    alert = Alert(
        title=f"{len(soon)} draft(s) will miss their deadline within "
        f"{ctx.settings.deadline_warning_hours:g} hours unless sent",
        facts=dict(by_kind.most_common()),
        lines=tuple(
            f"Draft #{row.id} ({WORKFLOWS.get(row.workflow, row.workflow)}, {row.source_ref}): "
            f"due {uk_time(row.deadline)}"
            for row in soon
        ),
        channel="duty",
    )
    send(ctx.settings, ctx.db, alert, subject=f"deadlines:{uk_day(when).isoformat()}")
    return 1
