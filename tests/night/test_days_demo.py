"""`vhub demo --auto-approve --days N` end to end: real processes; the drafts approved and sent to the simulated
partners, then simulated days on the front doors' stepped clocks: decisions read and stored once, overdue ones
escalated once to the MOU's channel, and the month's MOU report, referral audit sample and child risk assessment
audit written from what the store holds."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_a_demo_run_then_simulated_days_reads_decisions_and_escalates_each_overdue_one_once(tmp_path: Path) -> None:
    """Every draft sent once; over two simulated days each decision check fires once (a second try refused), each
    decision is stored once, each escalation step has one card and is closed exactly when its referral is decided;
    the summary's figures are the store's, and the MOU report names each front door without a child's name; the
    month's referral audit sample is drawn from what was sent and the child risk assessment audit written, neither
    naming a child."""
    summary_path = tmp_path / "demo.json"
    result = subprocess.run(
        [sys.executable, "-m", "vhub", "demo", "--auto-approve", "--days", "2", "--incidents", "12", "--exit"]
        + ["--summary-json", str(summary_path)],
        capture_output=True,
        text=True,
        env={
            "VHUB_DATA_DIR": str(tmp_path / "var"),
            "VHUB_REVIEW_PORT": "0",
            "PATH": "/usr/bin:/bin",
        },  # 0: beside other stacks
        timeout=900,
        check=False,
    )
    assert 0 == result.returncode, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    days = summary["days"]
    assert summary["complete"] and summary["portal_records_match"], summary["unfinished"]
    assert all(days["checks"].values()), days["checks"]
    assert 6 == days["decision_checks"]  # 09:10, 13:10 and 17:10 on each of the two days
    assert days["referrals_sent"] >= 1 and days["decided"] >= 1

    with sqlite3.connect(tmp_path / "var" / "demo" / "vhub.db") as store:
        sent = store.execute(
            "SELECT count(*) FROM drafts d JOIN submissions s ON s.draft_id = d.id "
            "WHERE d.workflow = 'referral' AND d.status = 'sent' AND s.partner_reference IS NOT NULL"
        ).fetchone()[0]
        decided = dict(store.execute("SELECT draft_id, count(*) FROM partner_decisions GROUP BY draft_id").fetchall())
        steps = store.execute("SELECT draft_id, step, closed_at, alerted_at FROM decision_escalations").fetchall()
        names = [row[0] for row in store.execute("SELECT forename || ' ' || surname FROM people").fetchall()]
        sampled = store.execute("SELECT count(*) FROM audit_sample_referrals").fetchone()[0]
        scored = store.execute("SELECT count(*) FROM cra_scores").fetchone()[0]
        audited = store.execute(
            "SELECT count(*) FROM audit_events "
            "WHERE action IN ('partner_decision.recorded', 'partner_decision.revised')"
        ).fetchone()[0]
    assert (sent, len(decided), sent - len(decided)) == (days["referrals_sent"], days["decided"], days["undecided"])
    assert sum(decided.values()) == audited == days["decided"] + days["revised"]
    assert (len(steps), len(steps)) == (days["escalation_steps_opened"], days["escalation_cards"])
    assert all(alerted is not None for _, _, _, alerted in steps)
    assert all((closed is not None) == (draft_id in decided) for draft_id, _, closed, _ in steps)

    report = Path(days["mou_report"]).read_text(encoding="utf-8")
    for front_door in ("Herefordshire MASH", "Worcestershire", "Shropshire", "Telford"):
        assert front_door in report
    assert not [name for name in names if name and name in report]

    # the month's audits from the run: the referral audit's sample of what was sent, in the MOU report for the
    # auditors to score, and the child risk assessment audit of the incidents read
    assert (sent, sampled) == (days["audit_sample"]["population"], days["audit_sample"]["sampled"])
    assert 1 <= sampled <= sent
    assert 'id="referral-audit"' in report and "No sample of" not in report
    cra_reports = [Path(path).read_text(encoding="utf-8") for path in days["cra_audit_reports"]]
    assert cra_reports and all("hild risk assessment" in page for page in cra_reports)
    assert scored >= 1
    assert not [name for name in names if name and any(name in page for page in cra_reports)]
