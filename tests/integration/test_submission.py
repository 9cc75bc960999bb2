"""The whole loop on real components: approved drafts reach every partner portal exactly once, under faults.

Each portal's own record (``/_admin/submissions``) is compared with what vhub stored: the same keys,
each once, with the reference the portal gave. Faults while sending: lost confirmations, 5xx answers,
sessions expired mid-form, and a worker killed in the middle of a submission.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date

import httpx
import pytest
from rq import Queue, Worker
from rq.executions import ExecutionRegistry
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from tasks.isr import start_isr_scan
from tasks.submit import queue_submission, resume_portal
from tests.conftest import Databases
from tests.integration.conftest import RunningStack, every, fast_policy, running_stack
from vhub.failed import list_failed
from vhub.portals import all_paused, portal_for
from vhub.review.accounts import User, add_user
from vhub.review.decisions import approve
from vhub.simulated.auto_approve import approve_all
from vhub.store.tables import AuditEventRow, DraftRow, SubmissionRow, UserRow, utcnow

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow, pytest.mark.both_engines]

SEED, COUNT = 9, 10  # a seed whose ten incidents give referrals, notices and MARAC referrals
FAULTS = {"confirmation_failure_rate": 0.3, "error_rate": 0.05}
EXPIRE_EVERY_S = 5.0


def portals(stack: RunningStack) -> dict[str, str]:
    return {name: url for name, url in stack.stack.urls.items() if name != "records_system"}


def held(url: str) -> list[dict]:
    return httpx.get(f"{url}/_admin/submissions", timeout=10).json()["submissions"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[RunningStack]:
    """A small synthetic set read, triaged and drafted, with every draft but one referral left to approve."""
    tmp = tmp_path_factory.mktemp("submission")
    policy = fast_policy(tmp)
    # One approval sends a red draft here: the four-eyes rule has its own tests (tests/vhub/review).
    env = {
        "VHUB_QUEUE_CONFIG": str(policy),
        "VHUB_FIXTURES_ISR_REQUESTS": "4",
        "VHUB_REVIEW_SECOND_APPROVER_FOR_RED": "false",
    }
    with running_stack(tmp, incidents=COUNT, seed=SEED, database_url=databases.new_url(), env=env) as running:
        running.activate()
        start_isr_scan()
        running.scan()
        running.wait_quiet()
        with running.ctx.db.session() as session:
            held_back = session.scalars(
                select(DraftRow.id).where(DraftRow.workflow == "referral").order_by(DraftRow.id)
            ).first()
            session.get_one(DraftRow, held_back).status = "held_back"  # for the killed-worker test
        yield running


def test_every_approved_draft_lands_once_despite_faults(stack: RunningStack) -> None:
    """Lost confirmations, 5xx answers and expired sessions: each draft is in its portal once, with its reference."""
    for url in portals(stack).values():
        httpx.post(f"{url}/_admin/faults", json=FAULTS, timeout=10).raise_for_status()
    approved = approve_all(stack.ctx)
    assert approved > 5
    # Every portal ends every session every few seconds: long forms lose their session part-way through.
    with every(
        EXPIRE_EVERY_S,
        lambda: [httpx.post(f"{url}/_admin/expire-sessions", timeout=10) for url in portals(stack).values()],
    ):
        stack.wait_quiet(timeout=600)
    assert [] == [(job.function, job.reason) for job in list_failed(stack.ctx.jobs)]
    with stack.ctx.db.session() as session:
        rows = session.scalars(select(SubmissionRow)).all()
        drafts = {d.id: d for d in session.scalars(select(DraftRow))}
    assert approved == len(rows)
    for name, url in portals(stack).items():
        ours = {row.key: row.partner_reference for row in rows if row.portal == name and row.status == "sent"}
        theirs = held(url)
        assert [] == [key for key, count in Counter(item["key"] for item in theirs).items() if count > 1], name
        assert ours == {item["key"]: item["reference"] for item in theirs}, name
    refused = [row for row in rows if row.status == "rejected"]
    assert all(
        drafts[row.draft_id].status == "awaiting_review" and drafts[row.draft_id].needs_attention for row in refused
    )
    assert {"sent"} == {drafts[row.draft_id].status for row in rows if row.status == "sent"}
    stats = [httpx.get(f"{url}/_admin/stats", timeout=10).json() for url in portals(stack).values()]
    assert sum(s["errors_injected"] for s in stats) > 0 and sum(s["session_expiries"] for s in stats) > 0


def test_a_worker_killed_mid_submission_still_delivers_once(stack: RunningStack) -> None:
    """SIGKILL the worker while it submits; once rq gives the job up as abandoned and retries it, the draft
    is in its portal exactly once and marked sent with the portal's reference."""
    for url in portals(stack).values():
        httpx.post(
            f"{url}/_admin/faults",
            json={"confirmation_failure_rate": 0, "error_rate": 0, "latency_ms": 400},
            timeout=10,
        ).raise_for_status()
    with stack.ctx.db.session() as session:
        draft = session.scalars(select(DraftRow).where(DraftRow.status == "held_back")).one()
        draft.status, draft_id, row_version = "awaiting_review", draft.id, draft.row_version
        user = add_user(session, "kill.test", "synthetic-worker-restart-pass", "reviewer")
    with stack.ctx.db.session() as session:
        approve(session, draft_id, user, row_version, now=utcnow(), jobs=stack.ctx.jobs, second_approver_for_red=False)

    def sending() -> bool:
        with stack.ctx.db.session() as session:
            row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).first()
            return row is not None and row.status == "sending"

    deadline = time.monotonic() + 60
    while not sending() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # into the form: part-filled, or posted and awaiting its confirmation
    connection = stack.ctx.jobs.connection
    busy = [w for w in Worker.all(connection=connection) if w.get_current_job_id()]
    assert 1 == len(busy)
    job_id = busy[0].get_current_job_id()
    victim = next(c for c in stack.stack.children if c.name.startswith("worker") and c.argv[-1] == busy[0].name)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(10)
    # The worker cannot report its own death; rq gives the job up when its heartbeat runs out (its time-out
    # plus a minute). Instead of waiting, the dead worker's heartbeat is made to run out now: the job's entry
    # in the started registry and its execution (which holds the portal's session slot) end in the past.
    registry = StartedJobRegistry(queue=Queue("submit", connection=connection))
    for key in (registry.key, ExecutionRegistry(job_id, connection=connection).key):
        connection.zadd(key, dict.fromkeys(connection.zrange(key, 0, -1), 1), xx=True)
    registry.cleanup()
    # Likewise the scheduler (which starts retries) the dead worker may have run: its locks lapse after a minute.
    # A live scheduler whose lock goes takes it again at its next beat.
    for lock in connection.keys("rq:scheduler-lock:*"):
        connection.delete(lock)
    stack.wait_quiet(timeout=200)
    with stack.ctx.db.session() as session:
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).one()
        status = session.get_one(DraftRow, draft_id).status
    theirs = [item for item in held(portals(stack)[row.portal]) if item["key"] == row.key]
    assert ("sent", "sent", 1) == (status, row.status, len(theirs))
    assert theirs[0]["reference"] == row.partner_reference
    assert row.attempts >= 2


def clone_and_approve(stack: RunningStack, workflow: str, payload: Callable[[dict], dict] | None = None) -> int:
    """A fresh copy of a draft of ``workflow`` (its payload changed by ``payload``), approved: a new
    submission with a new key."""
    with stack.ctx.db.session() as session:
        source = session.scalars(select(DraftRow).where(DraftRow.workflow == workflow).order_by(DraftRow.id)).first()
        assert source is not None, workflow
        copy = DraftRow(
            **{
                column.name: getattr(source, column.name)
                for column in DraftRow.__table__.columns
                if column.name
                not in (
                    "id",
                    "status",
                    "row_version",
                    "claimed_by",
                    "claimed_until",
                    "first_approver",
                    "needs_attention",
                    "attention_reason",
                )
            }
        )
        copy.dedupe_key = f"{source.dedupe_key}|copy-{time.time_ns()}"
        if payload is not None:
            copy.payload = payload(dict(source.payload))
        session.add(copy)
        session.flush()
        found = session.scalars(select(UserRow).where(UserRow.username == "clone.approver")).first()
        user = (
            User(found.id, found.username, found.display_name, found.role)
            if found
            else add_user(session, "clone.approver", "synthetic-second-approval-pass", "reviewer")
        )
        copy_id, row_version = copy.id, copy.row_version
    # Approved in a transaction of its own, as a reviewer approves a draft stored before: the submit job may start
    # before the approval commits, and waits on the draft's row lock only for a draft that is already stored.
    with stack.ctx.db.session() as session:
        approve(
            session,
            copy_id,
            user,
            row_version,
            now=utcnow(),
            jobs=stack.ctx.jobs,
            second_approver_for_red=False,
        )
    return copy_id


def submission(stack: RunningStack, draft_id: int) -> SubmissionRow:
    with stack.ctx.db.session() as session:
        row = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == draft_id)).one()
        session.expunge(row)
        return row


def test_drift_pauses_only_that_portal_and_resume_sends_what_waited(stack: RunningStack) -> None:
    """A changed layout on one portal pauses it (no retries burnt) and raises an alert; the others carry on;
    after the layout is back and the portal resumed, the waiting draft is sent once."""
    school = portals(stack)["school_portal"]
    httpx.post(f"{school}/_admin/faults", json={"layout": "variant", "latency_ms": 0}, timeout=10).raise_for_status()
    waiting = clone_and_approve(stack, "encompass")
    stack.wait_quiet(timeout=120)
    other = clone_and_approve(stack, "marac")
    stack.wait_quiet(timeout=120)
    assert ("paused", "sent") == (submission(stack, waiting).status, submission(stack, other).status)
    assert [] == list_failed(stack.ctx.jobs)
    assert "school_portal" in all_paused(stack.ctx.jobs.connection)
    with stack.ctx.db.session() as session:
        alerts = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "alert.raised")).all()
        assert ["school_portal"] == [event.entity_id for event in alerts]
    cards = httpx.get(f"{stack.stack.webhook_sink_url}/_admin/received", params={"channel": "admins"}, timeout=10)
    titles = [post["card"]["attachments"][0]["content"]["body"][0]["text"] for post in cards.json()]
    assert ["Portal school_portal paused: its pages have changed"] == titles  # as a card in the admins' channel

    httpx.post(f"{school}/_admin/faults", json={"layout": "standard"}, timeout=10).raise_for_status()
    assert 1 == resume_portal("school_portal")
    stack.wait_quiet(timeout=120)
    row = submission(stack, waiting)
    assert "sent" == row.status
    assert 1 == len([item for item in held(school) if item["key"] == row.key])
    assert {} == all_paused(stack.ctx.jobs.connection)


def test_a_refused_submission_returns_to_review_with_the_portals_words(stack: RunningStack) -> None:
    """The MARAC portal refuses a victim under 16: the job ends at once (no retry, no failed job), the draft is
    back in the review queue with the portal's own message, and the portal holds nothing for it."""
    for url in portals(stack).values():
        httpx.post(f"{url}/_admin/faults", json={"layout": "standard", "latency_ms": 0}, timeout=10)
    fifteen = date(date.today().year - 15, 1, 1).isoformat()
    refused = clone_and_approve(
        stack, "marac", lambda payload: {**payload, "victim": {**payload["victim"], "date_of_birth": fifteen}}
    )
    stack.wait_quiet(timeout=120)
    row = submission(stack, refused)
    with stack.ctx.db.session() as session:
        draft = session.get_one(DraftRow, refused)
        events = session.scalars(
            select(AuditEventRow.action).where(AuditEventRow.entity_id == str(refused)).order_by(AuditEventRow.id)
        ).all()
    assert ("rejected", 1) == (row.status, row.attempts)
    assert ("awaiting_review", True) == (draft.status, draft.needs_attention)
    assert "MARAC takes victims aged 16 or over." in (draft.attention_reason or "")
    assert "draft.refused_by_partner" == events[-1]
    assert [] == [item for item in held(portals(stack)["marac_portal"]) if item["key"] == row.key]
    assert [] == list_failed(stack.ctx.jobs)


def test_submit_jobs_queued_twice_are_sent_once_by_two_workers(stack: RunningStack) -> None:
    """Each draft's submission queued a second time beside the first: the two workers, one store and one Redis
    deliver each draft to its portal once, sent, with the portal's reference stored and found on the retry."""
    for url in portals(stack).values():
        httpx.post(
            f"{url}/_admin/faults", json={"confirmation_failure_rate": 0, "error_rate": 0, "latency_ms": 0}, timeout=10
        ).raise_for_status()
    stack.activate()
    drafts = [clone_and_approve(stack, workflow) for workflow in ("encompass", "marac", "referral", "encompass")]
    with stack.ctx.db.session() as session:
        for draft_id in drafts:
            draft = session.get_one(DraftRow, draft_id)
            queue_submission(draft_id, portal_for(draft.workflow, draft.recipient))
    stack.wait_quiet(timeout=200)
    rows = [submission(stack, draft_id) for draft_id in drafts]
    with stack.ctx.db.session() as session:
        statuses = [session.get_one(DraftRow, draft_id).status for draft_id in drafts]
    held_keys = Counter(item["key"] for row in {row.portal for row in rows} for item in held(portals(stack)[row]))
    assert ["sent"] * 4 == statuses
    assert [("sent", 1)] * 4 == [(row.status, held_keys[row.key]) for row in rows]
    assert [] == list_failed(stack.ctx.jobs)


def vhub(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "VHUB_DATA_DIR": str(stack.ctx.settings.data_path),
        "VHUB_DATABASE_URL": stack.ctx.settings.database_url,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run([sys.executable, "-m", "vhub", *args], capture_output=True, text=True, env=env, timeout=300)


def test_the_check_names_each_broken_locator(stack: RunningStack) -> None:
    """`vhub selectors check` passes on the standard layout and names the broken locators of a changed one."""
    good = vhub(stack, "selectors", "check", "--portal", "marac_portal")
    assert 0 == good.returncode, good.stdout + good.stderr
    assert "All locators match." in good.stdout
    marac = portals(stack)["marac_portal"]
    httpx.post(f"{marac}/_admin/faults", json={"layout": "variant"}, timeout=10).raise_for_status()
    try:
        bad = vhub(stack, "selectors", "check", "--portal", "marac_portal")
    finally:
        httpx.post(f"{marac}/_admin/faults", json={"layout": "standard"}, timeout=10).raise_for_status()
    assert 1 == bad.returncode
    assert "BROKEN:" in bad.stdout or "FAILED:" in bad.stdout
    assert "selectors/marac_portal.yaml" in bad.stdout or "marac" in bad.stdout
