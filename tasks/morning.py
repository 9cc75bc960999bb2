"""The scheduled morning report: written to the reports folder, summarised to the admins' Teams channel.

A run (`vhub runs show`), audited by its alert. A channel that does not take the summary fails the job, so rq
retries it and it shows in `vhub failed list`; the report files are written either way.
"""

from __future__ import annotations

from typing import Any

from tasks.watch import failed_jobs_by_function
from vhub import logs
from vhub.alerts import send, webhook_url
from vhub.clock import moment, uk_day
from vhub.context import current
from vhub.errors import ApplicationError
from vhub.portals import all_paused
from vhub.reports.morning import build_morning, summary_card, write_morning
from vhub.store.runs import finish_run, start_run

log = logs.get_logger(__name__)

KIND = "morning_report"


def morning_report(at: str | None = None) -> dict[str, Any]:
    """Write the morning report for the moment ``at`` (now if not given) and post its summary."""
    ctx = current()
    when = moment(at)
    with ctx.db.session() as session:
        run_id = start_run(session, kind=KIND, system="report", changed_since=None)
    logs.bind(run_id=run_id, step=KIND)
    failed = dict(failed_jobs_by_function())
    paused = all_paused(ctx.jobs.connection)
    with ctx.db.session(read_only=True) as session:
        report = build_morning(session, when, failed_jobs=failed, paused_portals=paused)
    paths = write_morning(report, ctx.settings.data_path / "reports")
    delivered = send(ctx.settings, ctx.db, summary_card(report, paths[0].name), subject=f"{KIND}:{uk_day(when)}")
    counts = {key: str(value) for key, value in report.facts().items()}
    with ctx.db.session() as session:
        finish_run(
            session, run_id, found=report.drafts_total, counts=counts, status="complete" if delivered else "failed"
        )
    if not delivered and webhook_url(ctx.settings, "admins").strip():
        raise ApplicationError(
            f"The admins' Teams channel did not take the morning report's summary; the report is written "
            f"({paths[0].name}) and the job will try again.",
            code="alert_not_delivered",
        )
    log.info("morning report written", report=paths[0].name, delivered=delivered)
    return {"run_id": run_id, "report": str(paths[0]), "delivered": delivered}
