"""The MOU's figures per front door (sent, decided, decided within the MOU's time, median time to decision,
escalations), checked against the store; the monthly report's HTML and CSV; the morning report's section."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.review.support import draft_row
from vhub.mou import mou_config
from vhub.reports.morning import build_morning, write_morning
from vhub.reports.mou import build_mou_report, front_doors, month_bounds, write_mou_report
from vhub.store import Database
from vhub.store.tables import DecisionEscalationRow, PartnerDecisionRow, SubmissionRow

MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
pytestmark = pytest.mark.both_engines

ODD_REFERENCE = "HMASH-<b>4</b>"  # whatever a portal calls its referral is shown as text, never as markup


def referral(
    session: Session,
    number: int,
    authority: str,
    risk: str,
    sent_at: datetime,
    *decided: tuple[str, datetime],
    reference: str | None = None,
) -> int:
    """A referral sent at ``sent_at`` and each decision its front door recorded on it, in order."""
    draft = draft_row(
        number,
        workflow="referral",
        status="sent",
        authority=authority,
        risk=risk,
        dedupe_key=f"referral|{number}",
        recipient={"kind": "authority", "name": authority, "authority": authority},
        text="Referral for Ellie Marsh.",
    )
    session.add(draft)
    session.flush()
    reference = reference or f"REF-{number}"
    session.add(
        SubmissionRow(
            draft_id=draft.id,
            portal=f"referral_{authority}",
            key=f"VHUB-{draft.id}-k",
            status="sent",
            partner_reference=reference,
            sent_at=sent_at,
        )
    )
    for outcome, at in decided:
        session.add(
            PartnerDecisionRow(
                draft_id=draft.id,
                authority=authority,
                partner_reference=reference,
                outcome=outcome,
                wording=outcome,
                decided_at=at,
            )
        )
    return draft.id


def escalation(session: Session, draft_id: int, step: int, opened: datetime, closed: datetime | None = None) -> None:
    session.add(
        DecisionEscalationRow(
            draft_id=draft_id,
            authority="herefordshire",
            risk="red",
            partner_reference=ODD_REFERENCE if draft_id == 4 else f"REF-{draft_id}",
            step=step,
            police_role="VHub duty sergeant" if step == 1 else "VHub detective inspector",
            partner_role="Front door team manager",
            decision_due_at=datetime(2026, 3, 10, 17, 0, tzinfo=UTC),
            opened_at=opened,
            closed_at=closed,
        )
    )


@pytest.fixture
def month(db: Database) -> Database:
    """March 2026: four referrals to Herefordshire (decided in 4 h, 50 h late, 78 h within amber's three days with a
    later change, never: escalated twice and open), one to Shropshire in 2 h; one sent in February, one in April."""
    with db.session() as session:
        referral(session, 1, "herefordshire", "red", MONDAY, ("early_help", MONDAY + timedelta(hours=4)))
        late = referral(session, 2, "herefordshire", "red", MONDAY, ("assessment", MONDAY + timedelta(hours=50)))
        referral(
            session,
            3,
            "herefordshire",
            "amber",
            MONDAY,
            ("assessment", MONDAY + timedelta(hours=78)),
            ("strategy_discussion", MONDAY + timedelta(hours=100)),
        )
        never = referral(session, 4, "herefordshire", "red", MONDAY, reference=ODD_REFERENCE)
        referral(session, 5, "shropshire", "green", datetime(2026, 3, 20, 10, 0, tzinfo=UTC), ("early_help", NOW))
        referral(session, 6, "herefordshire", "red", datetime(2026, 2, 27, 10, 0, tzinfo=UTC))
        referral(session, 7, "herefordshire", "red", datetime(2026, 4, 1, 10, 0, tzinfo=UTC))
        session.flush()
        escalation(session, late, 1, datetime(2026, 3, 10, 17, 10, tzinfo=UTC), MONDAY + timedelta(hours=50))
        escalation(session, never, 1, datetime(2026, 3, 10, 17, 10, tzinfo=UTC))
        escalation(session, never, 2, datetime(2026, 3, 11, 17, 10, tzinfo=UTC))
    return db


def test_the_months_figures_are_the_stores(month: Database) -> None:
    """Per front door: referrals sent in the month, decided (by their first decision), within the MOU's time,
    the median hours to a decision, escalations opened in the month and open now, outcomes by the latest decision
    and how many were revised; every authority listed."""
    with month.session(read_only=True) as session:
        report = build_mou_report(session, mou_config(), front_doors(), "2026-03", NOW)
        _, start, end = month_bounds("2026-03")
        stored_sent = session.scalar(
            select(func.count())
            .select_from(SubmissionRow)
            .where(SubmissionRow.sent_at >= start, SubmissionRow.sent_at < end)
        )
        stored_decided = session.scalar(
            select(func.count(func.distinct(PartnerDecisionRow.draft_id)))
            .join(SubmissionRow, SubmissionRow.draft_id == PartnerDecisionRow.draft_id)
            .where(SubmissionRow.sent_at >= start, SubmissionRow.sent_at < end)
        )
    by = {row.authority: row for row in report.authorities}
    assert ["herefordshire", "shropshire", "telford_wrekin", "worcestershire"] == sorted(by)
    herefordshire = by["herefordshire"]
    assert (4, 3, 2, 50.0, 2, 1) == (
        herefordshire.sent,
        herefordshire.decided,
        herefordshire.within_mou,
        herefordshire.median_hours,
        herefordshire.escalations_opened,
        herefordshire.escalations_open,
    )
    # by the latest decision: referral 3's assessment became a strategy discussion, counted once, as revised
    assert {"early_help": 1, "assessment": 1, "strategy_discussion": 1} == {
        key: n for key, n in herefordshire.outcomes.items() if n
    }
    assert 1 == herefordshire.revised
    shropshire = by["shropshire"]
    assert (1, 1, 0) == (shropshire.sent, shropshire.decided, shropshire.within_mou)  # green: due 25/03, decided 31/03
    nothing = by["worcestershire"]
    assert (0, 0, 0, None, 0, "—") == (
        nothing.sent,
        nothing.decided,
        nothing.within_mou,
        nothing.median_hours,
        nothing.escalations_open,
        nothing.within_share,
    )
    assert (stored_sent, stored_decided) == (report.totals.sent, report.totals.decided)
    assert [(4, 2)] == [(item.draft_id, item.step) for item in report.open_now]


def test_the_report_is_written_as_html_and_csv(month: Database, tmp_path: Path) -> None:
    """mou-2026-03.html (escaped, no child's name), a CSV row per front door, and the open escalations' CSV."""
    with month.session(read_only=True) as session:
        report = build_mou_report(session, mou_config(), front_doors(), "2026-03", NOW)
    html, table, escalations, *_ = write_mou_report(report, tmp_path)
    page = html.read_text(encoding="utf-8")
    rows = list(csv.DictReader(table.read_text(encoding="utf-8").splitlines()))
    open_rows = list(csv.DictReader(escalations.read_text(encoding="utf-8").splitlines()))
    assert ["mou-2026-03.html", "mou-2026-03.csv", "mou-2026-03-open-escalations.csv"] == [
        path.name for path in (html, table, escalations)
    ]
    assert "March 2026" in page and "Herefordshire MASH" in page and "2 days 2 h" in page
    assert "HMASH-&lt;b&gt;4&lt;/b&gt;" in page and ODD_REFERENCE not in page
    assert "Ellie Marsh" not in page
    herefordshire = next(row for row in rows if row["authority"] == "herefordshire")
    assert ("4", "3", "2", "50.0", "1") == (
        herefordshire["sent"],
        herefordshire["decided"],
        herefordshire["decided_within_mou"],
        herefordshire["median_hours_to_decision"],
        herefordshire["escalations_open"],
    )
    assert ("1", "1") == (herefordshire["outcome_strategy_discussion"], herefordshire["decisions_revised"])
    assert [(ODD_REFERENCE, "2")] == [(row["partner_reference"], row["step"]) for row in open_rows]
    # the due time as every time in vhub's CSVs: UK time with its zone, to the second, not the page's wording
    assert re.fullmatch(r"\d\d/\d\d/2026 17:00:00 (GMT|BST)", open_rows[0]["decision_due_at"])


def test_a_month_not_written_as_year_and_month_is_refused_plainly() -> None:
    """ "2026-13" and "March" are refused with the form to use."""
    for wrong in ("2026-13", "March"):
        with pytest.raises(ValueError, match="give it as YYYY-MM"):
            month_bounds(wrong)


def test_the_morning_report_shows_each_front_door_and_the_decisions_overdue(month: Database, tmp_path: Path) -> None:
    """The morning report's text and HTML give each front door's figures over 30 days and each open escalation."""
    with month.session(read_only=True) as session:
        report = build_morning(session, NOW, failed_jobs={}, paused_portals={})
    html, text = (path.read_text(encoding="utf-8") for path in write_morning(report, tmp_path))
    assert 1 == report.facts()["Children's services decisions overdue"]
    assert "Herefordshire MASH: 4 sent, 3 decided, 2 within the MOU's time, median 2 days 2 h" in text
    assert f"#4 {ODD_REFERENCE} (herefordshire, red)" in text
    assert "HMASH-&lt;b&gt;4&lt;/b&gt;" in html and "Ellie Marsh" not in html + text
