"""A run's hand-over to triage: the ingest that ends its reading queues the run's triage once, whatever failed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import select

import tasks.ingest
from tests.factories import raw_incident
from vhub import context
from vhub.errors import ApplicationError, BusinessError, SelectorDrift, VhubError
from vhub.models import validate_incident
from vhub.queues import SERIALIZER
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.incidents import save_incident
from vhub.store.runs import ListedVersion, record_found, run_progress, start_run
from vhub.store.tables import ScanItemRow

VERSION = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)
LISTED = [ListedVersion(system_id, f"OCC/26/{system_id:06d}", VERSION) for system_id in (101, 102, 103)]


def raw_for(system_id: int) -> dict[str, Any]:
    return raw_incident(reference=f"OCC/26/{system_id:06d}", system_id=system_id)


class Records:
    """Stands in for the records bot: lists ``LISTED``, and each incident page reads as a valid incident."""

    def __init__(self, settings: Settings) -> None:
        pass

    def list_changed_since(self, since: datetime | None) -> list[ListedVersion]:
        return LISTED

    def read_incident(self, system_id: int) -> dict[str, Any]:
        return raw_for(system_id)


@pytest.fixture
def ctx(
    settings: Settings, db: Database, redis_url: str, redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[context.AppContext]:
    monkeypatch.setattr(tasks.ingest, "RecordsBot", Records)
    yield context.configure(settings.model_copy(update={"redis_url": redis_url}))
    context.current().db.dispose()


def found(ctx: context.AppContext, items: list[ListedVersion]) -> str:
    with ctx.db.session() as session:
        run_id = start_run(session, kind="test", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", items)
    return run_id


def ingest(run_id: str, item: ListedVersion) -> str:
    return tasks.ingest.ingest(run_id, item.system_id, item.reference, item.last_modified.isoformat())


def triage_jobs(ctx: context.AppContext) -> list[tuple[str, list[Any]]]:
    """The triage jobs queued: (function name, arguments), in order."""
    return [(job.func_name.rsplit(".", 1)[1], list(job.args)) for job in ctx.jobs.queue("default").jobs]


def fail_for_good(
    ctx: context.AppContext, run_id: str, item: ListedVersion, error: VhubError, retries_left: int
) -> None:
    """What rq does when the ingest job of ``item`` fails with ``error`` and ``retries_left`` retries to go."""
    job = ctx.jobs.enqueue(
        "ingest",
        tasks.ingest.ingest,
        run_id,
        item.system_id,
        item.reference,
        item.last_modified.isoformat(),
        on_failure=tasks.ingest.ingest_failed,
    )
    job.retries_left = retries_left
    job.failure_callback(job, ctx.jobs.connection, type(error), error, None)


def test_the_ingest_that_reads_the_last_version_queues_the_run_triage_once(ctx: context.AppContext) -> None:
    """Nothing is queued while versions remain; the last one queues the run's triage; a replay of it queues
    only its own incident's triage."""
    run_id = found(ctx, LISTED)
    ingest(run_id, LISTED[0])
    ingest(run_id, LISTED[2])
    assert [] == triage_jobs(ctx)
    ingest(run_id, LISTED[1])
    assert [("triage_run", [run_id])] == triage_jobs(ctx)
    ingest(run_id, LISTED[1])
    assert [("triage_run", [run_id]), ("triage_incident", [LISTED[1].reference, VERSION.isoformat()])] == triage_jobs(
        ctx
    )


def test_an_ingest_failed_for_good_lets_the_run_go_to_triage_and_its_replay_is_triaged(
    ctx: context.AppContext,
) -> None:
    """The run goes to triage without the failed version (which holds the run open); replayed, it is stored and
    queues its own triage, and the run completes."""
    run_id = found(ctx, LISTED[:2])
    ingest(run_id, LISTED[0])
    fail_for_good(ctx, run_id, LISTED[1], ApplicationError("The records system did not answer."), retries_left=0)
    with ctx.db.session() as session:
        after_failure = run_progress(session, run_id)
    assert [("triage_run", [run_id])] == triage_jobs(ctx)
    assert ("ingesting", {"stored": 1, "failed": 1}) == (after_failure["status"], after_failure["counts"])

    assert "stored" == ingest(run_id, LISTED[1])
    with ctx.db.session() as session:
        after_replay = run_progress(session, run_id)
    assert ("triage_incident", [LISTED[1].reference, VERSION.isoformat()]) == triage_jobs(ctx)[-1]
    assert ("complete", {"stored": 2}) == (after_replay["status"], after_replay["counts"])


@pytest.mark.parametrize(
    ("error", "retries_left", "handed_over"),
    [
        (ApplicationError("The records system did not answer."), 2, False),
        (ApplicationError("The records system did not answer."), 0, True),
        (BusinessError("The incident cannot be used."), 4, True),
        (SelectorDrift("records_system", "incident", "reference", 0), 4, True),
    ],
    ids=["will-be-retried", "no-retries-left", "business-error", "selector-drift"],
)
def test_only_a_failure_that_will_not_be_retried_releases_the_run(
    ctx: context.AppContext, error: VhubError, retries_left: int, handed_over: bool
) -> None:
    """A failure rq will retry keeps the run waiting for the version; no retries left, or an error a retry cannot
    fix (never retried), lets the run go to triage."""
    run_id = found(ctx, LISTED[:1])
    fail_for_good(ctx, run_id, LISTED[0], error, retries_left)
    with ctx.db.session() as session:
        counts = run_progress(session, run_id)["counts"]
    expected = ([("triage_run", [run_id])], {"failed": 1}) if handed_over else ([], {"pending": 1})
    assert expected == (triage_jobs(ctx), counts)


def test_scan_queues_ingests_that_report_their_failure(ctx: context.AppContext) -> None:
    """Each new version gets an ingest job whose failure rq reports to ingest_failed; the run's triage waits."""
    run_id = tasks.ingest.start_scan(kind="test")
    tasks.ingest.scan(run_id)
    with ctx.db.session() as session:
        job_ids = session.scalars(select(ScanItemRow.job_id).where(ScanItemRow.run_id == run_id)).all()
    jobs = Job.fetch_many(list(job_ids), connection=ctx.jobs.connection, serializer=SERIALIZER)
    assert [(item.reference, "tasks.ingest.ingest_failed") for item in LISTED] == sorted(
        (job.args[2], job._failure_callback_name) for job in jobs if job is not None
    )
    assert [] == triage_jobs(ctx)


def test_a_scan_with_nothing_new_queues_the_run_triage_itself(ctx: context.AppContext) -> None:
    """When every listed version is already stored, no ingest runs, so the scan hands the run to triage."""
    with ctx.db.session() as session:
        for item in LISTED:
            save_incident(session, validate_incident(raw_for(item.system_id)), source_system="records_system")
    run_id = tasks.ingest.start_scan(kind="test")
    tasks.ingest.scan(run_id)
    assert [("triage_run", [run_id])] == triage_jobs(ctx)
    assert 0 == Queue("ingest", connection=ctx.jobs.connection, serializer=SERIALIZER).count
