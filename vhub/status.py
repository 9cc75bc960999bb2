"""What the stack is doing now: queue depths, workers, failures, what is stored, how far each system is read."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError
from rq import Worker
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from vhub.queues import Jobs, QueuePolicy, connect
from vhub.settings import Settings, display_url
from vhub.store import Database
from vhub.store.incidents import count_incidents
from vhub.store.runs import get_watermark
from vhub.store.tables import DataQualityItemRow, RunRow


def collect(settings: Settings) -> dict[str, Any]:
    report: dict[str, Any] = {"redis_url": display_url(settings.redis_url) if settings.redis_url else None}
    report.update(_queues(settings))
    db = Database(settings)
    db.migrate()
    try:
        with db.session() as session:
            last_run = session.scalars(select(RunRow).order_by(RunRow.started_at.desc()).limit(1)).first()
            watermark = get_watermark(session, "records_system")
            report["store"] = {
                "incidents": count_incidents(session),
                "incident_versions": count_incidents(session, versions=True),
                "data_quality_open": session.scalar(
                    select(func.count(DataQualityItemRow.id)).where(DataQualityItemRow.status == "open")
                ),
                "watermark_records_system": watermark.isoformat() if watermark else None,
                "last_run": {
                    "id": last_run.id,
                    "status": last_run.status,
                    "started_at": last_run.started_at.isoformat(),
                    "found": last_run.found,
                }
                if last_run
                else None,
            }
    finally:
        db.dispose()
    return report


def _queues(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url:
        return {
            "queues": None,
            "workers": None,
            "failed_jobs": None,
            "redis_error": "no Redis running; start `vhub up`",
        }
    try:
        jobs = Jobs(connect(settings.redis_url), QueuePolicy.load(settings.queue_config))
        queues = {}
        failed_total = 0
        for queue in jobs.queues():
            failed = FailedJobRegistry(queue=queue).count
            failed_total += failed
            queues[queue.name] = {
                "queued": queue.count,
                "started": StartedJobRegistry(queue=queue).count,
                "scheduled": ScheduledJobRegistry(queue=queue).count,
                "deferred": DeferredJobRegistry(queue=queue).count,
                "failed": failed,
            }
        workers = [
            {"name": w.name, "state": w.get_state(), "job": w.get_current_job_id()}
            for w in Worker.all(connection=jobs.connection)
        ]
        return {"queues": queues, "workers": workers, "failed_jobs": failed_total}
    except RedisError as error:
        return {"queues": None, "workers": None, "failed_jobs": None, "redis_error": f"Redis not reachable ({error})"}


def render(report: dict[str, Any]) -> str:
    lines = []
    if report.get("queues") is None:
        lines.append(f"Queues: {report.get('redis_error')}")
    else:
        lines.append(f"{'queue':<10}{'queued':>8}{'running':>9}{'scheduled':>11}{'deferred':>10}{'failed':>8}")
        for name, q in report["queues"].items():
            lines.append(
                f"{name:<10}{q['queued']:>8}{q['started']:>9}{q['scheduled']:>11}{q['deferred']:>10}{q['failed']:>8}"
            )
        lines.append(f"Workers: {len(report['workers'])}")
        for worker in report["workers"]:
            lines.append(f"  {worker['name']}: {worker['state']}" + (f" ({worker['job']})" if worker["job"] else ""))
        lines.append(f"Failed jobs: {report['failed_jobs']}  (see `vhub failed list`)")
    store = report["store"]
    lines.append(
        f"Incidents stored: {store['incidents']} ({store['incident_versions']} versions); "
        f"data-quality items open: {store['data_quality_open']}"
    )
    lines.append(f"Records system read up to: {store['watermark_records_system'] or 'not yet read'}")
    if store["last_run"]:
        run = store["last_run"]
        lines.append(f"Last run: {run['status']}, started {run['started_at']}, found {run['found']}")
    return "\n".join(lines)
