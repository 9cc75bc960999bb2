"""What the bots do when the records system misbehaves in ways a retry cannot fix."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select

from fixtures.records_system import generate
from tasks.ingest import ingest, start_scan
from tests.conftest import Databases
from tests.integration.conftest import RunningStack, running_stack
from vhub.failed import replay
from vhub.queues import SERIALIZER
from vhub.store.runs import ListedVersion, open_data_quality_items, record_found, run_progress, start_run
from vhub.store.tables import RunRow, TriageResultRow

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.both_engines]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[RunningStack]:
    url = databases.new_url()
    with running_stack(tmp_path_factory.mktemp("failures"), incidents=5, seed=3, database_url=url) as running:
        yield running


def wait_for(condition, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail("condition not met in time")


def test_an_incident_gone_since_the_scan_is_kept_for_review(stack: RunningStack) -> None:
    """A listed incident the records system no longer shows becomes a data-quality item; the run completes."""
    stack.admin("POST", "faults", {"layout": "standard"})
    listed = ListedVersion(system_id=9999, reference="OCC/26/999999", last_modified=datetime(2026, 11, 1, tzinfo=UTC))
    with stack.ctx.db.session() as session:
        run_id = start_run(session, kind="test", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", [listed])
    stack.ctx.jobs.enqueue("ingest", ingest, run_id, 9999, listed.reference, listed.last_modified.isoformat())

    def complete() -> bool:
        with stack.ctx.db.session() as session:
            return run_progress(session, run_id)["status"] == "complete"

    wait_for(complete)
    with stack.ctx.db.session() as session:
        reasons = [item.reasons for item in open_data_quality_items(session) if item.reference == listed.reference]
    assert [
        [
            "The records system no longer shows incident id 9999: it may have been deleted or restricted "
            "after the scan listed it. Check it in the records system."
        ]
    ] == reasons


def test_selector_drift_fails_once_with_evidence(stack: RunningStack) -> None:
    """A changed page layout fails the scan at once (no retries), keeping a screenshot, the page and a trace."""
    stack.admin("POST", "faults", {"layout": "variant"})
    stack.activate()
    start_scan(kind="test")
    scan_queue = stack.ctx.jobs.queue("scan")
    failed = FailedJobRegistry(queue=scan_queue)
    wait_for(lambda: failed.count == 1)
    job = Job.fetch(failed.get_job_ids()[0], connection=stack.ctx.jobs.connection, serializer=SERIALIZER)
    assert 0 == job.retries_left
    assert 0 == ScheduledJobRegistry(queue=scan_queue).count
    assert "[selector_drift]" in job.latest_result().exc_string

    evidence_root = stack.ctx.settings.evidence_dir / "records_system"
    folders = [folder for folder in evidence_root.iterdir() if "-failure-" in folder.name and job.id in folder.name]
    assert 1 == len(folders)
    assert {"screenshot.png", "page.html", "trace.zip"} == {path.name for path in folders[0].iterdir()}
    assert all(path.stat().st_size > 0 for path in folders[0].iterdir())
    log_lines = (stack.ctx.settings.log_dir / "vhub.jsonl").read_text(encoding="utf-8").splitlines()
    saved = [json.loads(line) for line in log_lines if '"evidence saved"' in line]
    assert str(folders[0]) in {event["evidence"] for event in saved}


def test_an_ingest_failed_for_good_lets_the_run_go_to_triage_and_its_replay_is_triaged(stack: RunningStack) -> None:
    """An incident page that changed fails its ingest at once; the run still goes to triage, held open by the
    version; replayed once the page is back, the incident is stored and triaged and the run completes."""
    record = next(item for item in generate(3, 5).incidents if item.incident is not None and item.last_modified)
    assert record.last_modified is not None
    listed = ListedVersion(record.system_id, record.reference, record.last_modified)
    stack.admin("POST", "faults", {"layout": "variant"})
    run_id, job = stack.ingest_one(listed)

    def handed_to_triage() -> bool:
        with stack.ctx.db.session() as session:
            return session.get_one(RunRow, run_id).triage_queued_at is not None

    wait_for(handed_to_triage)
    stack.wait_quiet()
    with stack.ctx.db.session() as session:
        after_failure = run_progress(session, run_id)
    stack.admin("POST", "faults", {"layout": "standard"})
    assert [job.id] == replay(stack.ctx.jobs, [job.id])
    stack.wait_quiet()
    with stack.ctx.db.session() as session:
        after_replay = run_progress(session, run_id)
        triaged = session.scalars(
            select(TriageResultRow.reference).where(TriageResultRow.reference == listed.reference)
        ).all()
    assert ("ingesting", {"failed": 1}) == (after_failure["status"], after_failure["counts"])
    assert ("complete", {"stored": 1}) == (after_replay["status"], after_replay["counts"])
    assert [listed.reference] == triaged
