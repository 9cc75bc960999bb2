"""A real failure on the embedded stack, read and discarded as an admin would: the bot's evidence is found by the
job's id, and the discarded ingest leaves its incident for a person while the run completes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from fixtures.records_system import generate
from tests.integration.conftest import RunningStack, running_stack
from vhub.evidence import FolderEvidence
from vhub.failed import discard, list_failed, show
from vhub.store.runs import ListedVersion, run_progress
from vhub.store.tables import AuditEventRow, DataQualityItemRow

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(tmp_path_factory.mktemp("discard"), incidents=5, seed=3, database_url="") as running:
        yield running


def test_a_failed_ingest_is_shown_with_its_evidence_and_discarded_without_losing_the_incident(
    stack: RunningStack,
) -> None:
    """An ingest that met a changed page is explained in plain words with the screenshot, page and trace the bot
    kept; discarded with a reason, its version is done (the run completes) and its incident waits for a person."""
    record = next(item for item in generate(3, 5).incidents if item.incident is not None and item.last_modified)
    assert record.last_modified is not None
    listed = ListedVersion(record.system_id, record.reference, record.last_modified)
    stack.admin("POST", "faults", {"layout": "variant"})
    try:
        run_id, job = stack.ingest_one(listed)
        failed_registry = FailedJobRegistry(queue=stack.ctx.jobs.queue("ingest"))
        deadline = time.monotonic() + 120
        while job.id not in failed_registry.get_job_ids() and time.monotonic() < deadline:
            time.sleep(0.3)
        stack.wait_quiet()
    finally:
        stack.admin("POST", "faults", {"layout": "standard"})
    shown = show(stack.ctx.jobs, job.id, FolderEvidence(stack.ctx.settings.evidence_dir))
    assert shown.explanation.startswith("A page of the other system has changed its layout")
    assert (1, 1) == (shown.attempts, len(shown.evidence))
    assert {"screenshot.png", "trace.zip", "page.html"} <= set(shown.evidence[0].files)
    outcome = discard(stack.ctx.jobs, stack.ctx.db, job.id, reason="Restricted record", actor="vhub.admin")
    with stack.ctx.db.session() as session:
        progress = run_progress(session, run_id)
        item = session.scalars(select(DataQualityItemRow).where(DataQualityItemRow.reference == listed.reference)).one()
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "job.discarded")).one()
    assert f"Incident {listed.reference} is waiting in the review queue as a data-quality item" in outcome
    assert ("complete", {"discarded": 1}) == (progress["status"], progress["counts"])
    assert ("open", datetime.fromisoformat(listed.last_modified.isoformat()).astimezone(UTC)) == (
        item.status,
        item.version.astimezone(UTC),
    )
    assert ("vhub.admin", job.id, "tasks.ingest.ingest") == (event.actor, event.entity_id, event.before["function"])
    assert job.id not in [failed.id for failed in list_failed(stack.ctx.jobs)]
