"""The demo's summary claims only what it checked: complete means read, triaged and drafted, no job left or failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tests.factories import raw_incident
from vhub.models import validate_incident
from vhub.simulated.demo import conclude, default_timeout_s, render_summary, unfinished_work
from vhub.store import Database
from vhub.store.incidents import save_incident
from vhub.store.runs import ListedVersion, finish_item, record_found, start_run
from vhub.store.tables import IncidentRow, TriageResultRow

VERSION = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)
STORED = {"incidents_in_source": 2, "incidents_stored": 2, "incidents_invalid": 0}


def stored_run(db: Database, *, triaged: int) -> str:
    """A run that listed and stored two incidents, the first ``triaged`` of them triaged."""
    incidents = [validate_incident(raw_incident(reference=f"OCC/26/00010{i}", system_id=100 + i)) for i in (1, 2)]
    with db.session() as session:
        run_id = start_run(session, kind="demo", system="records_system", changed_since=None)
        record_found(
            session, run_id, "records_system", [ListedVersion(i.system_id, i.reference, VERSION) for i in incidents]
        )
    for incident in incidents:
        with db.session() as session:
            save_incident(session, incident, source_system="records_system")
            finish_item(session, run_id, incident.reference, VERSION, "stored")
    with db.session() as session:
        for incident in incidents[:triaged]:
            row = session.scalars(select(IncidentRow).where(IncidentRow.reference == incident.reference)).one()
            result = {"risk": "green", "score": 0, "priority": "low", "result": {}}
            session.add(TriageResultRow(incident_id=row.id, reference=row.reference, version=VERSION, **result))
    return run_id


def unfinished(db: Database, run_id: str, **queues: Any) -> list[str]:
    with db.session() as session:
        return unfinished_work(
            session, run_id, **{"jobs_in_flight": 0, "failed_jobs": 0, "time_limit_s": None, **queues}
        )


def summary_of(verdict: dict[str, Any]) -> dict[str, Any]:
    """A whole summary with the counts of ``STORED`` and ``verdict``, as render_summary takes it."""
    return {
        **STORED,
        **verdict,
        "invalid_items": [],
        "triage_by_risk": {"green": 1},
        "drafts_by_type": {},
        "data_quality_items": 0,
        "most_urgent_drafts": [],
        "failed_jobs": 0,
        "duration_s": 1.0,
        "backlog_report": "backlog.html",
    }


def test_an_untriaged_incident_means_not_complete_and_counts_not_confirmed(db: Database) -> None:
    """Every version read and stored with counts equal to the truth, one incident untriaged: the summary says
    not complete, does not say the counts match, and names what is unfinished."""
    run_id = stored_run(db, triaged=1)
    verdict = conclude(STORED, unfinished(db, run_id), incidents=2, invalid=0)
    text = render_summary(summary_of(verdict))
    assert (False, False, ["not triaged: 1 of 2 stored incidents"]) == (
        verdict["complete"],
        verdict["matches_ground_truth"],
        verdict["unfinished"],
    )
    assert ("counts match" in text, "not triaged: 1 of 2 stored incidents" in text) == (False, True)


def test_a_run_read_triaged_and_quiet_is_complete_and_matches(db: Database) -> None:
    """With every incident triaged and no job left or failed, the run is complete and its counts match."""
    run_id = stored_run(db, triaged=2)
    verdict = conclude(STORED, unfinished(db, run_id), incidents=2, invalid=0)
    assert (True, True, []) == (verdict["complete"], verdict["matches_ground_truth"], verdict["unfinished"])
    assert "counts match" in render_summary(summary_of(verdict))


def test_the_time_limit_work_in_flight_and_failed_jobs_are_each_named(db: Database) -> None:
    """Stopping at the time limit with jobs queued and failed says so, line by line."""
    run_id = stored_run(db, triaged=2)
    assert [
        "time limit reached: the demo stopped waiting after 1300 s (see --timeout)",
        "jobs still queued or running: 7 (triage, drafting or sending)",
        "failed jobs: 2 (`vhub failed list` shows why)",
    ] == unfinished(db, run_id, jobs_in_flight=7, failed_jobs=2, time_limit_s=1300.0)


def test_a_version_not_read_or_failed_is_named(db: Database) -> None:
    """Listed versions still pending or failed for good are reported as not read and failed."""
    listed = [ListedVersion(i, f"OCC/26/00020{i}", VERSION) for i in (1, 2, 3)]
    with db.session() as session:
        run_id = start_run(session, kind="demo", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", listed)
        finish_item(session, run_id, listed[0].reference, VERSION, "failed")
    assert ["not read: 2 of 3 listed incident versions", "reading failed: 1 of 3 listed incident versions"] == (
        unfinished(db, run_id)
    )


def test_the_default_time_limit_grows_with_the_run() -> None:
    """Five minutes plus a second an incident: 3,000 incidents get 55 minutes, not the 30 that cut a run short."""
    assert [600.0, 1300.0, 3300.0] == [default_timeout_s(n) for n in (300, 1000, 3000)]


def test_the_summary_names_the_historic_backlog() -> None:
    """The summary says how many incidents are historic backlog, from when, and how the queue labels them."""
    summary = {
        **summary_of(conclude(STORED, [], incidents=2, invalid=0)),
        "historic_backlog": {"incidents": 54, "before": "03/11/2026"},
    }
    assert (
        "  Historic backlog:                  54 of the incidents happened before 03/11/2026: not the night's; in the "
        'queue, "historic backlog" beside the deadline'
    ) in render_summary(summary).splitlines()
