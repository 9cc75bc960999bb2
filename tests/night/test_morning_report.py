"""The morning report: the night's counts, what is due before 09:00, what was missed yesterday, in HTML, text and
a Teams summary, with references and no personal data."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from sqlalchemy import select

from tasks.morning import morning_report
from tests.night.conftest import ServedSink
from vhub import context, portals
from vhub.store import Database
from vhub.store.tables import AuditEventRow, RunRow, ScanItemRow, SubmissionRow

AT = "2026-12-01T07:45:00+00:00"  # 07:45 GMT, Tuesday 1 December


def night(db: Database, make_draft: Callable[..., int]) -> dict[str, int]:
    """A night: yesterday's report, a scan since of 3 versions (2 stored, 1 invalid), drafts due today and yesterday."""
    with db.session() as session:
        session.add(
            RunRow(
                id="run-1",
                kind="scheduled",
                system="records_system",
                found=3,
                status="complete",
                started_at=datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
                finished_at=datetime(2026, 12, 1, 1, 5, tzinfo=UTC),
            )
        )
        session.add(
            RunRow(
                id="run-old",
                kind="scheduled",
                system="records_system",
                found=50,
                status="complete",
                started_at=datetime(2026, 11, 30, 6, 0, tzinfo=UTC),
            )
        )
        session.add(  # yesterday's report: this one counts from there
            RunRow(
                id="report-yesterday",
                kind="morning_report",
                system="report",
                status="complete",
                started_at=datetime(2026, 11, 30, 7, 45, tzinfo=UTC),
            )
        )
        session.flush()
        for number, status in enumerate(("stored", "stored", "invalid")):
            session.add(
                ScanItemRow(
                    run_id="run-1",
                    system="records_system",
                    reference=f"OCC/26/00010{number}",
                    system_id=number,
                    last_modified=datetime(2026, 11, 30, 22, 0, tzinfo=UTC),
                    status=status,
                )
            )
    made, before = datetime(2026, 12, 1, 1, 10, tzinfo=UTC), datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    yesterday_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    ids = {
        "due_0830": make_draft(datetime(2026, 12, 1, 8, 30, tzinfo=UTC), school="<b>Oak</b> Primary", created_at=made),
        "due_later": make_draft(datetime(2026, 12, 1, 11, 0, tzinfo=UTC), created_at=made, workflow="referral"),
        "missed": make_draft(yesterday_0900, school="Elm School", created_at=before),
        "late": make_draft(
            datetime(2026, 11, 30, 9, 0, tzinfo=UTC), school="Ash School", status="sent", created_at=before
        ),
        "on_time": make_draft(
            datetime(2026, 11, 30, 9, 0, tzinfo=UTC), school="Birch School", status="sent", created_at=before
        ),
    }
    with db.session() as session:
        session.add(
            SubmissionRow(
                draft_id=ids["late"],
                portal="school_portal",
                key="k1",
                status="sent",
                sent_at=datetime(2026, 11, 30, 10, 15, tzinfo=UTC),
            )
        )
        session.add(
            SubmissionRow(
                draft_id=ids["on_time"],
                portal="school_portal",
                key="k2",
                status="sent",
                sent_at=datetime(2026, 11, 30, 8, 15, tzinfo=UTC),
            )
        )
    return ids


def test_the_morning_report_is_written_and_summarised_to_the_admins(
    ctx: context.AppContext, db: Database, make_draft: Callable[..., int], sink: ServedSink, redis_client: Redis
) -> None:
    """The scheduled job writes the HTML and text report and posts one card of the right counts to the admins."""
    ids = night(db, make_draft)
    portals.pause(redis_client, "referral_shropshire", "its pages changed (selectors/referral_shropshire.yaml)")

    result = morning_report(AT)

    cards = sink.received("admins")
    assert 1 == len(cards)
    content = cards[0]["card"]["attachments"][0]["content"]
    facts = {fact["title"]: fact["value"] for fact in content["body"][1]["facts"]}
    assert "VHub morning report, Tuesday 01/12/2026" == content["body"][0]["text"]
    assert {
        "Since": "30/11/2026 07:45 GMT (the last report)",
        "Scans run": "1",
        "Incidents read": "3 listed, 2 stored, 1 invalid (for a person)",
        "Drafts made": "2",
        "Drafts due before 09:00": "1",
        "Deadlines missed yesterday": "2",
        "Paused portals": "referral_shropshire",
        "Failed jobs waiting": "0",
    }.items() <= facts.items()
    html = Path(result["report"]).read_text(encoding="utf-8")
    text = Path(result["report"]).with_suffix(".txt").read_text(encoding="utf-8")
    assert "&lt;b&gt;Oak&lt;/b&gt; Primary" in html and "<b>Oak</b>" not in html
    assert "<svg" in html
    assert (
        f"#{ids['due_0830']} Operation Encompass, OCC/26/000001, <b>Oak</b> Primary: due 01/12/2026 08:30 GMT" in text
    )
    missed = f"#{ids['missed']} Operation Encompass, OCC/26/000003, Elm School: due 30/11/2026 09:00 GMT"
    assert f"{missed}, not sent (waiting for review)\n" in text
    assert f"#{ids['late']} Operation Encompass" in text and "sent late, 30/11/2026 10:15 GMT" in text
    assert f"#{ids['on_time']} " not in text
    for personal in ("Ellie", "Marsh", "2016", "Orchard"):
        assert personal not in html + text + json.dumps(cards)
    with db.session() as session:
        run = session.scalars(
            select(RunRow).where(RunRow.kind == "morning_report", RunRow.id != "report-yesterday")
        ).one()
        assert ("complete", "2") == (run.status, str(run.found))
        assert 1 == len(session.scalars(select(AuditEventRow).where(AuditEventRow.action == "alert.raised")).all())
