"""The dashboard's figures, computed from the store at a fixed moment, and the page that shows them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from rq import SimpleWorker
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.utils import current_timestamp
from sqlalchemy.orm import Session

from tests.review.support import ACCOUNTS, ReviewApp, data_quality_row, draft_row
from vhub.queues import SERIALIZER, Jobs, QueuePolicy, connect
from vhub.review import dashboard
from vhub.review.dashboard import BacklogCell, Compliance
from vhub.runtime import free_port
from vhub.store import Database
from vhub.store.tables import DecisionEscalationRow, DecisionRow, DraftRow, SubmissionRow, UserRow, utcnow

NOW = datetime(2026, 6, 10, 11, 0, tzinfo=UTC)  # 12:00 in London (BST), a Wednesday


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session() as session:
        session.add(
            UserRow(id=1, username="alex.reviewer", display_name="Alex Reviewer", role="reviewer", password_hash="-")
        )
        session.flush()
        yield session


def add_draft(session: Session, number: int, **changes: Any) -> DraftRow:
    changes.setdefault("created_at", NOW - timedelta(hours=number))
    changes.setdefault("deadline", NOW + timedelta(hours=8))
    row = draft_row(number, **changes)
    session.add(row)
    session.flush()
    return row


def decide(session: Session, draft: DraftRow, decision: str, at: datetime) -> None:
    session.add(DecisionRow(draft_id=draft.id, user_id=1, decision=decision, row_version=1, at=at))
    session.flush()


def test_the_backlog_counts_open_drafts_by_status_authority_and_risk(session: Session) -> None:
    """Drafts not yet done with are counted by status (second approvals apart), authority and risk."""
    add_draft(session, 1)
    add_draft(session, 2)
    add_draft(session, 3, risk="red", authority="herefordshire", first_approver=1)
    add_draft(session, 4, status="returned")
    add_draft(session, 5, status="approved", risk="green")
    add_draft(session, 6, workflow="isr_response", authority=None, risk=None)
    for number, status in ((7, "sent"), (8, "rejected"), (9, "superseded")):
        add_draft(session, number, status=status)
    assert [
        BacklogCell("approved", "worcestershire", "green", 1),
        BacklogCell("awaiting_review", "none", "none", 1),
        BacklogCell("awaiting_review", "worcestershire", "amber", 2),
        BacklogCell("returned", "worcestershire", "amber", 1),
        BacklogCell("second_approval", "herefordshire", "red", 1),
    ] == dashboard.backlog(session)


def test_the_oldest_waiting_drafts_come_first(session: Session) -> None:
    """The drafts awaiting review longest are listed oldest first, with how long they have waited."""
    add_draft(session, 5, created_at=NOW - timedelta(days=3, hours=2))
    add_draft(session, 6, created_at=NOW - timedelta(minutes=30))
    add_draft(session, 7, created_at=NOW - timedelta(days=9), status="returned")
    add_draft(session, 8, created_at=NOW - timedelta(hours=5), deadline=NOW - timedelta(hours=1))
    oldest = dashboard.oldest_waiting(session, NOW)
    assert [
        ("OCC/26/000005", "3 days 2 h", "on time"),
        ("OCC/26/000008", "5 h 0 min", "overdue"),
        ("OCC/26/000006", "0 h 30 min", "on time"),
    ] == [(w.source_ref, w.waiting_text, w.state) for w in oldest]


def test_deadline_compliance_counts_decisions_before_the_deadline(session: Session) -> None:
    """Today's and the week's share of drafts decided (approved, rejected, returned) before their deadline."""
    deadline = NOW - timedelta(hours=2)
    on_time = add_draft(session, 1, status="approved", deadline=deadline)
    late = add_draft(session, 2, status="rejected", deadline=deadline)
    earlier = add_draft(session, 3, status="returned", deadline=NOW - timedelta(days=3))
    too_old = add_draft(session, 4, status="approved", deadline=NOW - timedelta(days=8))
    first_of_two = add_draft(session, 5, first_approver=1, deadline=deadline)
    no_deadline = add_draft(session, 6, status="approved", deadline=None)
    decide(session, on_time, "edited", NOW - timedelta(hours=4))
    decide(session, on_time, "approved", NOW - timedelta(hours=3))
    decide(session, late, "rejected", NOW - timedelta(hours=1))
    decide(session, earlier, "returned", NOW - timedelta(days=3, hours=1))
    decide(session, too_old, "approved", NOW - timedelta(days=8, hours=1))
    decide(session, first_of_two, "first_approval", NOW - timedelta(hours=3))
    decide(session, no_deadline, "approved", NOW - timedelta(minutes=5))
    figures = dashboard.compute(session, NOW)
    assert (Compliance(2, 1), Compliance(3, 2), 3) == (figures.today.compliance, figures.week, figures.today.decided)
    assert ("50%", "1 of 2 decided before the deadline") == (
        figures.today.compliance.share_text,
        figures.today.compliance.detail,
    )


def test_overdue_counts_drafts_still_awaiting_review_past_their_deadline(session: Session) -> None:
    """Only drafts still awaiting review (second approvals included) whose deadline has passed are overdue."""
    add_draft(session, 1, deadline=NOW - timedelta(minutes=1))
    add_draft(session, 2, deadline=NOW - timedelta(days=2), first_approver=1)
    add_draft(session, 3, deadline=NOW + timedelta(minutes=1))
    add_draft(session, 4, deadline=NOW - timedelta(days=1), status="returned")
    add_draft(session, 5, deadline=None)
    assert 2 == dashboard.overdue(session, NOW)


def test_throughput_counts_per_london_day(session: Session) -> None:
    """Drafts created and decided per day for seven London days ending today; 23:30 UTC in summer is tomorrow."""
    add_draft(session, 1, created_at=datetime(2026, 6, 9, 23, 30, tzinfo=UTC))  # 00:30 on 10 June in London
    add_draft(session, 2, created_at=datetime(2026, 6, 9, 22, 30, tzinfo=UTC))  # 23:30 on 9 June
    add_draft(session, 3, created_at=datetime(2026, 6, 4, 0, 30, tzinfo=UTC))  # 4 June: the first of the 7 days
    add_draft(session, 4, created_at=datetime(2026, 6, 3, 22, 59, tzinfo=UTC))  # 23:59 on 3 June: too early
    decided = add_draft(session, 5, created_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC), status="approved")
    decide(session, decided, "approved", datetime(2026, 6, 8, 23, 15, tzinfo=UTC))  # 00:15 on 9 June
    days = dashboard.throughput(session, NOW)
    assert [
        (date(2026, 6, 4), 1, 0),
        (date(2026, 6, 5), 0, 0),
        (date(2026, 6, 6), 0, 0),
        (date(2026, 6, 7), 0, 0),
        (date(2026, 6, 8), 0, 0),
        (date(2026, 6, 9), 1, 1),
        (date(2026, 6, 10), 1, 0),
    ] == [(d.day, d.created, d.decided) for d in days]


def test_open_data_quality_items_are_counted(session: Session) -> None:
    """Open data-quality items count; resolved ones do not."""
    session.add_all(
        [
            data_quality_row(system_id=1),
            data_quality_row(system_id=2),
            data_quality_row(system_id=3, status="resolved", resolved_by="alex.reviewer"),
        ]
    )
    session.flush()
    assert 2 == dashboard.open_data_quality(session)


def test_queue_figures_count_finished_and_failed_jobs(redis_client: Redis, redis_url: str) -> None:
    """Finished and failed jobs are counted per queue from rq's registries; queued jobs are in flight."""
    jobs = Jobs(connect(redis_url), QueuePolicy.load())
    default, low = jobs.queue("default"), jobs.queue("low")
    default.enqueue(math.sqrt, 4)
    default.enqueue(math.sqrt, -1)
    low.enqueue(math.sqrt, 9)
    SimpleWorker([default, low], connection=redis_client, serializer=SERIALIZER).work(burst=True)
    jobs.queue("scan").enqueue(math.sqrt, 16)
    figures = dashboard.queue_figures(jobs)
    jobs.connection.close()
    assert figures is not None
    assert ({"default": (1, 1), "low": (1, 0)}, 1) == (
        {q.queue: (q.finished, q.failed) for q in figures.queues if q.finished or q.failed},
        figures.in_flight,
    )


def test_queue_figures_count_the_jobs_rq_still_keeps(redis_client: Redis, redis_url: str) -> None:
    """A job whose time to be kept has run out is not counted; one kept for a while, or for ever, is: what rq's own
    count gives after its clean-up."""
    jobs = Jobs(connect(redis_url), QueuePolicy.load())
    finished, failed = FinishedJobRegistry(queue=jobs.queue("default")), FailedJobRegistry(queue=jobs.queue("low"))
    now = current_timestamp()
    redis_client.zadd(finished.key, {"expired": now - 10, "kept": now + 600, "for-ever": -1})
    redis_client.zadd(failed.key, {"expired": now - 1, "kept": now + 60})
    figures = dashboard.queue_figures(jobs)
    jobs.connection.close()
    assert figures is not None
    assert {"default": (2, 0), "low": (0, 1)} == {
        q.queue: (q.finished, q.failed) for q in figures.queues if q.finished or q.failed
    }
    assert (2, 1) == (finished.count, failed.count)


def test_queue_figures_are_none_when_redis_cannot_be_reached() -> None:
    """With no Redis to ask, the queue figures are missing rather than an error."""
    jobs = Jobs(connect(f"redis://127.0.0.1:{free_port()}/0"), QueuePolicy.load())
    assert None is dashboard.queue_figures(jobs)
    jobs.connection.close()


def test_the_figures_as_json_name_no_one(session: Session) -> None:
    """/dashboard/data carries ids, references, counts and times, never a draft's title, recipient or text."""
    add_draft(session, 1, title="Referral for Casey Testperson", recipient_name="Brookfield Primary School")
    text = json.dumps(dashboard.as_json(dashboard.compute(session, NOW)))
    assert (False, False, True) == ("Casey" in text, "Brookfield" in text, "OCC/26/000001" in text)


def test_the_page_shows_the_figures_with_charts_and_the_refresh_script(review_app: ReviewApp) -> None:
    """The dashboard shows its numbers, inline SVG charts and the refresh script, with no inline script."""
    page = review_app.visitor("reviewer").client.get("/dashboard")
    main = page.text.split("<main")[1]
    assert (200, ['<script src="/static/dashboard.js" defer></script>'], "2", True, False) == (
        page.status_code,
        re.findall(r"<script[^>]*>.*?</script>", page.text),
        re.findall(r'data-figure="awaiting">(\d+)<', main)[0],
        '<figure class="chart" id="chart-backlog-status">' in main and "<svg" in main,
        "/admin/failed-jobs" in main,  # the link to failed jobs is for admins only
    )


def test_the_script_is_served_as_javascript(review_app: ReviewApp) -> None:
    """The refresh script is served with a JavaScript type (the browser will not sniff one under nosniff)."""
    response = review_app.client().get("/static/dashboard.js")
    assert (200, "javascript") == (response.status_code, response.headers["content-type"].split(";")[0].split("/")[1])


def test_every_number_on_the_page_has_a_value_in_the_json(review_app: ReviewApp) -> None:
    """The script can refresh every card: each data-figure on the page is a key of /dashboard/data."""
    client = review_app.visitor("admin").client
    on_page = set(re.findall(r'data-figure="(\w+)"', client.get("/dashboard").text))
    data = client.get("/dashboard/data")
    assert ("application/json", on_page) == (data.headers["content-type"], set(data.json()["figures"]))


def test_the_fragment_is_the_charts_alone(review_app: ReviewApp) -> None:
    """/dashboard/fragment returns the charts and tables without the page around them."""
    fragment = review_app.visitor("reviewer").client.get("/dashboard/fragment")
    assert (200, False, True) == (fragment.status_code, "<html" in fragment.text, 'id="backlog"' in fragment.text)


def test_queue_figures_unavailable_is_said_plainly(make_app: Any) -> None:
    """Without Redis the dashboard still shows the store's figures and says the queue figures are unavailable."""
    review = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = review.client()
    review.sign_in(client, ACCOUNTS["admin"][0])
    page = client.get("/dashboard")
    data = client.get("/dashboard/data").json()
    assert (200, True) == (page.status_code, "Queue figures unavailable" in page.text)
    assert ("unavailable", None, "2") == (data["figures"]["jobs_failed"], data["queues"], data["figures"]["awaiting"])


def test_every_decision_late_is_charted_as_0_per_cent(review_app: ReviewApp) -> None:
    """When every decided draft was late, the on-time chart draws today at 0%, not "Nothing to show"."""
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, review_app.ids["draft"])
        draft.status, draft.deadline = "approved", utcnow() - timedelta(hours=3)
        reviewer = session.query(UserRow).filter_by(username=ACCOUNTS["reviewer"][0]).one()
        session.add(DecisionRow(draft_id=draft.id, user_id=reviewer.id, decision="approved", row_version=1))
    page = review_app.visitor("reviewer").client.get("/dashboard").text
    chart = page.split('id="chart-on-time">')[1].split("</figure>")[0]
    assert ("Nothing to show" in chart, "<svg" in chart, ">0% (0 of 1)</text>" in chart) == (False, True, True)


def test_an_overdue_childrens_services_decision_is_on_the_dashboard(review_app: ReviewApp) -> None:
    """A referral sent and escalated under the MOU: the front door's figures and the escalation's entry (draft,
    the portal's reference as text, the step and the role told), and its count in the data."""
    sent_at = utcnow() - timedelta(days=3)
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, review_app.ids["draft"])
        draft.workflow, draft.status, draft.authority, draft.risk = "referral", "sent", "herefordshire", "red"
        session.add(
            SubmissionRow(
                draft_id=draft.id,
                portal="referral_herefordshire",
                key="VHUB-1-k",
                status="sent",
                partner_reference="HMASH-<i>9</i>",
                sent_at=sent_at,
            )
        )
        session.add(
            DecisionEscalationRow(
                draft_id=draft.id,
                authority="herefordshire",
                risk="red",
                partner_reference="HMASH-<i>9</i>",
                step=1,
                police_role="VHub duty sergeant",
                partner_role="Front door team manager",
                decision_due_at=sent_at + timedelta(days=1),
                opened_at=sent_at + timedelta(days=1, minutes=10),
            )
        )
        draft_id = draft.id
    client = review_app.visitor("reviewer").client
    page = client.get("/dashboard").text
    data = client.get("/dashboard/data").json()
    partners = page.split('id="partners"')[1].split("</table>")[0]
    entry = page.split('id="escalations"')[1].split("</table>")[0]
    assert "<td>Herefordshire MASH</td><td>1</td><td>0</td>" in partners
    assert f'href="/drafts/{draft_id}"' in entry and "HMASH-&lt;i&gt;9&lt;/i&gt;" in entry and "<i>9" not in entry
    assert "VHub duty sergeant" in entry
    assert ("1", [(draft_id, 1)]) == (
        data["figures"]["escalations_open"],
        [(item["draft_id"], item["step"]) for item in data["escalations_open"]],
    )
    assert [(sent_at + timedelta(days=1)).isoformat()] == [item["decision_due_at"] for item in data["escalations_open"]]
