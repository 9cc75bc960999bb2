"""Scan and ingest on real components: redis-server, rq workers, Chromium, SQLite, the simulated records system."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fixtures.records_system import generate
from tests.integration.conftest import COUNT, SEED, RunningStack, running_stack
from vhub.failed import list_failed
from vhub.models import validate_incident
from vhub.store.incidents import count_incidents, latest_incidents, load_incident
from vhub.store.runs import get_watermark, open_data_quality_items
from vhub.store.tables import AuditEventRow, ScanItemRow

# The tests of the shared 100-incident run are on SQLite only (see test_pipeline.py); the fault test, with its
# own stack, runs on both engines.
pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]


def failed_jobs(stack: RunningStack) -> list[tuple[str, str]]:
    """What failed for good, and why (empty when nothing did)."""
    return [(job.function, job.reason) for job in list_failed(stack.ctx.jobs)]


def what_became_of(stack: RunningStack, run_id: str, references: list[str]) -> dict[str, dict[str, object]]:
    """For each reference, its version's status in the run and any data-quality reasons: what a failure shows."""
    with stack.ctx.db.session() as session:
        items = session.scalars(
            select(ScanItemRow).where(ScanItemRow.run_id == run_id, ScanItemRow.reference.in_(references))
        ).all()
        kept = {item.reference: item.reasons for item in open_data_quality_items(session)}
        return {
            reference: {
                "in_run": [(item.status, item.job_id) for item in items if item.reference == reference],
                "kept_for_review": kept.get(reference),
            }
            for reference in references
        }


@pytest.fixture
def first_run(synthetic_run: tuple[RunningStack, dict]) -> tuple[RunningStack, dict]:
    return synthetic_run


def test_stored_incidents_equal_the_ground_truth_field_by_field(first_run: tuple[RunningStack, dict]) -> None:
    """Every valid generated incident is stored exactly as generated; nothing else is stored."""
    stack, run = first_run
    truth = {item.reference: item.incident for item in generate(SEED, COUNT).incidents if item.incident}
    with stack.ctx.db.session() as session:
        stored = {incident.reference: incident for incident in latest_incidents(session)}
    assert sorted(truth) == sorted(stored)
    for reference, expected in truth.items():
        assert expected == stored[reference], reference
    assert COUNT + 1 == run["found"]
    assert [] == failed_jobs(stack)


def test_malformed_records_become_data_quality_items(first_run: tuple[RunningStack, dict]) -> None:
    """Generated and planted malformed records are kept with the field that is wrong; the run completes."""
    stack, run = first_run
    planted = {item.reference: item.invalid_field for item in generate(SEED, COUNT).incidents if not item.incident}
    planted["OCC/26/990001"] = "people[0].date_of_birth"
    with stack.ctx.db.session() as session:
        items = {
            item.reference: item.reasons
            for item in open_data_quality_items(session)
            if item.source_system == "records_system"
        }
    assert sorted(planted) == sorted(items)
    for reference, field in planted.items():
        assert items[reference][0].startswith(f"{field}:"), (reference, items[reference])
    assert ["people[0].date_of_birth: is not a real calendar date"] == items["OCC/26/990001"]
    assert len(planted) == run["counts"]["invalid"]


def test_watermark_reaches_the_newest_version(first_run: tuple[RunningStack, dict]) -> None:
    """With every version handled, the watermark is the newest last-modified time listed."""
    stack, _ = first_run
    newest = max(item.last_modified for item in generate(SEED, COUNT).incidents)
    with stack.ctx.db.session() as session:
        assert newest <= get_watermark(session, "records_system")


def test_second_run_adds_nothing_and_a_touched_incident_is_a_new_version(
    first_run: tuple[RunningStack, dict],
) -> None:
    """A repeat scan stores nothing new; after the record changes, only its new version is stored."""
    stack, _ = first_run
    with stack.ctx.db.session() as session:
        versions = count_incidents(session, versions=True)
        stored_events = session.scalar(
            select(func.count(AuditEventRow.id)).where(AuditEventRow.action == "incident.stored")
        )
    again = stack.scan()
    assert 0 == again["counts"].get("stored", 0)
    with stack.ctx.db.session() as session:
        assert versions == count_incidents(session, versions=True)
        assert stored_events == session.scalar(
            select(func.count(AuditEventRow.id)).where(AuditEventRow.action == "incident.stored")
        )

    touched = stack.admin("POST", "incidents/5/touch")
    newer = stack.scan()
    assert 1 == newer["counts"]["stored"]
    current = next(item for item in stack.admin("GET", "truth")["incidents"] if item["system_id"] == 5)
    with stack.ctx.db.session() as session:
        assert versions + 1 == count_incidents(session, versions=True)
        latest = load_incident(session, touched["reference"])
    assert validate_incident(current["fields"]) == latest


def test_logs_hold_no_personal_data_or_credentials(first_run: tuple[RunningStack, dict]) -> None:
    """No generated name, date of birth, postcode or address, and not the bot's password, is in any log."""
    stack, _ = first_run
    secrets = {stack.ctx.settings.records_system.password.get_secret_value()}
    for item in generate(SEED, COUNT).incidents:
        for person in item.fields.get("people") or []:
            secrets |= {person.get("forename"), person.get("surname"), person.get("date_of_birth")}
            secrets |= set((person.get("address") or {}).values())
        secrets.add((item.fields.get("location") or {}).get("postcode"))
    secrets = {value for value in secrets if isinstance(value, str) and len(value) > 2}
    text = "\n".join(path.read_text(encoding="utf-8") for path in stack.ctx.settings.log_dir.iterdir())
    assert "incident ingested" in text
    folded = text.casefold()
    candidates = [value for value in secrets if value.casefold() in folded]  # cheap test first, then the exact one
    leaked = sorted(value for value in candidates if re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text))
    assert [] == leaked


FAULTY_COUNT = 40  # two pages of results and enough reads to meet many errors and expired sessions


@pytest.mark.both_engines
def test_faults_do_not_change_the_result(tmp_path: Path, database_url: str) -> None:
    """With 10% server errors and each session ended after 6 requests, the store still equals the ground truth.
    (Ended by requests served, not by a timer: reading by request, a run is over before a slow timer strikes, and
    a fast one, on a busy machine, ends the scan's session between signing in and searching, over and over.)"""
    env = {
        "VHUB_FIXTURE_FAULTS__ERROR_RATE": "0.1",
        "VHUB_FIXTURE_FAULTS__LATENCY_MS": "5",
        "VHUB_FIXTURE_FAULTS__SESSION_REQUESTS": "6",
    }
    with running_stack(tmp_path, incidents=FAULTY_COUNT, seed=SEED + 1, database_url=database_url, env=env) as stack:
        run = stack.scan()
        stats = stack.admin("GET", "stats")
        with stack.ctx.db.session() as session:
            stored = {incident.reference: incident for incident in latest_incidents(session)}
        failed = failed_jobs(stack)
        truth = {item.reference: item.incident for item in generate(SEED + 1, FAULTY_COUNT).incidents if item.incident}
        astray = sorted(ref for ref in truth.keys() | stored.keys() if truth.get(ref) != stored.get(ref))
        fates = what_became_of(stack, run["run_id"], astray)
    assert {} == fates
    assert truth == stored
    assert FAULTY_COUNT == run["found"]
    assert [] == failed
    assert stats["errors_injected"] > 0 and stats["session_expiries"] > 0, stats
