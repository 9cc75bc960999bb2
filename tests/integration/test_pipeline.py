"""From scan to drafts on real components: triage finds what the generator planted; drafts are idempotent."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy import func, select

from fixtures.records_system import generate
from tasks.triage import triage_run
from tests.integration.conftest import COUNT, SEED, RunningStack
from vhub.cra_audit import cra_rubric, score
from vhub.models import LONDON
from vhub.reports import build_backlog, write_backlog
from vhub.store.tables import AuditEventRow, DraftRow, IncidentRow, TriageResultRow, utcnow
from vhub.triage import TriageResult, load_config

# On SQLite only: the 100-incident run they share is the suite's costliest set-up, and running it again on
# PostgreSQL kept `make test` over 15 minutes; the store's rules on PostgreSQL are exercised by the submission,
# failure, concurrency and ingest-fault tests.
pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]


def latest_results(stack: RunningStack) -> list[TriageResult]:
    with stack.ctx.db.session() as session:
        rows = session.scalars(
            select(TriageResultRow)
            .join(IncidentRow, TriageResultRow.incident_id == IncidentRow.id)
            .where(IncidentRow.is_latest.is_(True))
        ).all()
        return [TriageResult.model_validate(row.result) for row in rows]


def counts(stack: RunningStack) -> tuple[int, int, int]:
    with stack.ctx.db.session() as session:
        return (
            session.scalar(select(func.count(TriageResultRow.id))),
            session.scalar(select(func.count(DraftRow.id))),
            session.scalar(select(func.count(AuditEventRow.id))),
        )


def test_triage_finds_exactly_what_the_generator_planted(synthetic_run: tuple[RunningStack, dict]) -> None:
    """Hidden high risk, missing child risk assessments and repeat children equal the ground truth."""
    stack, _ = synthetic_run
    planted = generate(SEED, COUNT).planted
    results = latest_results(stack)
    assert sorted(planted.hidden_high_risk) == sorted(r.reference for r in results if "hidden_high_risk" in r.flags)
    assert sorted((m["reference"], m["nominal_ref"]) for m in planted.missing_cra) == sorted(
        (r.reference, ref) for r in results for ref in r.missing_cras
    )
    flagged = {ref for r in results for ref in r.repeat_children}
    assert planted.repeat_children, "the generator plants repeat children in 100 incidents"
    for child in planted.repeat_children:
        assert flagged & set(child["nominal_refs"]), child
    assert flagged <= {ref for child in planted.repeat_children for ref in child["nominal_refs"]}


def test_every_action_is_drafted_once_and_a_rerun_adds_nothing(synthetic_run: tuple[RunningStack, dict]) -> None:
    """Each action of each latest triage has one draft awaiting review; triaging the run again creates nothing."""
    stack, run = synthetic_run
    expected = Counter((r.reference, a.workflow.value, a.subject) for r in latest_results(stack) for a in r.actions)
    with stack.ctx.db.session() as session:
        drafts = session.scalars(select(DraftRow).where(DraftRow.status == "awaiting_review")).all()
        actual = Counter((d.source_ref, d.workflow, d.subject) for d in drafts if d.workflow != "isr_response")
        assert all(d.text.strip() and d.deadline and d.title for d in drafts)
    assert expected == actual
    assert {"referral", "encompass", "marac"} <= {workflow for _, workflow, _ in actual}

    before = counts(stack)
    stack.ctx.jobs.enqueue("triage", triage_run, run["run_id"])
    stack.wait_quiet()
    assert before == counts(stack)


def test_isr_responses_disclose_exactly_the_subjects_incidents(synthetic_run: tuple[RunningStack, dict]) -> None:
    """Each open request has one response draft; per named subject it lists exactly the incidents the records
    hold for them (or no trace), and no third party is named."""
    stack, _ = synthetic_run
    truth = stack.admin("GET", "truth", system="isr_portal")
    expected = {
        (item["request_id"], subject["subject_id"]): subject["references"]
        for item in truth["requests"]
        if item["valid"] and item["status"] == "Open"
        for subject in item["subjects"]
    }
    with stack.ctx.db.session() as session:
        drafts = session.scalars(select(DraftRow).where(DraftRow.workflow == "isr_response")).all()
        payloads = {draft.source_ref: draft.payload for draft in drafts}
        texts = {draft.source_ref: draft.text for draft in drafts}
    actual = {
        (request_id, finding["subject_id"]): sorted(incident["reference"] for incident in finding["incidents"])
        for request_id, payload in payloads.items()
        for finding in payload["findings"]
    }
    assert expected == actual
    assert any(expected.values()) and any(not refs for refs in expected.values())
    records = {item.reference: item.incident for item in generate(SEED, COUNT).incidents if item.incident}
    for (request_id, subject_id), references in expected.items():
        named = {(s["forename"], s["surname"]) for s in payloads[request_id]["findings"]}
        for reference in references:
            for person in records[reference].people:
                if (person.forename, person.surname) not in named:
                    assert f"{person.forename} {person.surname}" not in texts[request_id], (request_id, subject_id)


def test_a_newer_version_supersedes_waiting_drafts_and_flags_approved_ones(
    synthetic_run: tuple[RunningStack, dict],
) -> None:
    """After the incident changes: drafts awaiting review are superseded, an approved one is flagged for a look."""
    stack, _ = synthetic_run
    with stack.ctx.db.session() as session:
        waiting_drafts = session.scalars(
            select(DraftRow).where(DraftRow.status == "awaiting_review", DraftRow.incident_id.is_not(None))
        ).all()
        per_incident = Counter(d.source_ref for d in waiting_drafts)
        reference = next(ref for ref, n in sorted(per_incident.items()) if n >= 2)
        first, second = sorted((d for d in waiting_drafts if d.source_ref == reference), key=lambda d: d.id)[:2]
        first.status = "approved"  # as the review app will record it
        system_id = session.scalars(select(IncidentRow.system_id).where(IncidentRow.reference == reference)).first()
        first_id, second_id = first.id, second.id
    stack.admin("POST", f"incidents/{system_id}/touch")
    stack.scan()
    stack.wait_quiet()
    with stack.ctx.db.session() as session:
        approved, waiting = session.get(DraftRow, first_id), session.get(DraftRow, second_id)
        newer = session.get(DraftRow, waiting.superseded_by) if waiting.superseded_by else None
        actions = set(
            session.scalars(
                select(AuditEventRow.action).where(AuditEventRow.entity_id.in_([str(first_id), str(second_id)]))
            )
        )
        assert ("approved", True) == (approved.status, approved.needs_attention)
        assert "superseded" == waiting.status
        assert newer is not None and "awaiting_review" == newer.status and newer.source_version > waiting.source_version
    assert {"draft.flagged", "draft.superseded"} <= actions


def test_backlog_report_opens_in_a_browser_with_charts(
    synthetic_run: tuple[RunningStack, dict], page: Page, tmp_path: Path
) -> None:
    """The report's HTML shows its sections and SVG charts in Chromium; its CSVs match the report."""
    stack, _ = synthetic_run
    with stack.ctx.db.session() as session:
        report = build_backlog(session, load_config(), utcnow())
    paths = write_backlog(report, tmp_path)
    page.goto(paths[0].as_uri())
    assert "VHub backlog report" == page.locator("h1").inner_text()
    assert page.locator("svg[role=img] rect").count() >= 4
    for section in (
        "crime-types",
        "hidden-high-risk",
        "missing-child-risk-assessments",
        "repeat-children",
        "oldest-waiting",
    ):
        assert page.locator(f"section#{section} h2").is_visible()
    page.screenshot(path=str(tmp_path / "backlog.png"), full_page=True)
    planted = generate(SEED, COUNT).planted
    assert len(planted.repeat_children) == len(report.repeat_children)
    assert len(planted.hidden_high_risk) + 1 == len(paths[3].read_text(encoding="utf-8").splitlines())


def test_the_cra_audit_is_reported_from_the_runs_stored_scores(
    synthetic_run: tuple[RunningStack, dict], page: Page, tmp_path: Path
) -> None:
    """`vhub report cra-audit --month 2026-11` over the run's store: per area, the assessments the records system
    holds for the month's incidents with the scores the rubric gives them; every missing assessment the generator
    planted listed for its area's contact; the page's charts drawn in Chromium."""
    stack, _ = synthetic_run
    written = subprocess.run(
        [sys.executable, "-m", "vhub", "report", "cra-audit", "--month", "2026-11", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=stack.stack.child_env(),
        timeout=120,
    )
    assert 0 == written.returncode, written.stderr
    html, areas, _, follow = (Path(line) for line in written.stdout.splitlines())
    truth = generate(SEED, COUNT)
    november = {
        record.reference: record.incident
        for record in truth.incidents
        if record.incident is not None and record.incident.occurred_at.astimezone(LONDON).strftime("%Y-%m") == "2026-11"
    }
    expected: dict[str, list[int]] = defaultdict(list)
    for incident in november.values():
        for cra in incident.child_risk_assessments:
            expected[str(cra.area)].append(score(cra, incident, cra_rubric()).score)
    rows = {row["area"]: row for row in csv.DictReader(areas.read_text(encoding="utf-8").splitlines())}
    assert {area: (len(values), round(sum(values) / len(values), 1)) for area, values in expected.items()} == {
        area: (int(row["assessed"]), float(row["mean_score"])) for area, row in rows.items() if row["assessed"] != "0"
    }
    missing = [
        (row["reference"], row["nominal_ref"])
        for row in csv.DictReader(follow.read_text(encoding="utf-8").splitlines())
        if row["kind"] == "missing"
    ]
    planted = [(item["reference"], item["nominal_ref"]) for item in truth.planted.missing_cra]
    assert sorted(item for item in planted if item[0] in november) == sorted(missing) != []
    page.goto(html.as_uri())
    assert "Child risk assessment audit" == page.locator("h1").inner_text()
    assert page.locator("svg[role=img] rect").count() >= 4
