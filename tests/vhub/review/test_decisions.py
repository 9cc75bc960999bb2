"""Decisions on drafts: claims, versions, two approvers for red risk, reasons, audit, the submit job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from rq.executions import Execution
from sqlalchemy import select

from tests.vhub.review.conftest import NOW
from vhub.errors import BusinessError
from vhub.queues import Jobs
from vhub.review.accounts import User
from vhub.review.decisions import (
    ClaimedByOther,
    Conflict,
    approve,
    claim,
    reject,
    return_for_fix,
    save_edits,
    take_back,
)
from vhub.store import Database
from vhub.store.tables import AuditEventRow, DecisionRow, DraftRow, SubmissionRow


def draft(db: Database, draft_id: int) -> DraftRow:
    with db.session() as session:
        row = session.get_one(DraftRow, draft_id)
        session.expunge(row)
        return row


def test_approval_records_the_decision_and_queues_the_submission(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """Approving stores the decision and an audit event, and puts the submission job on the submit queue."""
    draft_id = make_draft()
    with db.session() as session:
        outcome = approve(session, draft_id, users["alex"], 1, now=NOW, jobs=jobs, second_approver_for_red=True)
    assert "approved" == outcome
    assert ("approved", 2) == (draft(db, draft_id).status, draft(db, draft_id).row_version)
    submitted = jobs.queue("submit").jobs
    assert [("tasks.submit.submit_draft", [draft_id])] == [(job.func_name, job.args) for job in submitted]
    with db.session() as session:
        assert ["approved"] == list(session.scalars(select(DecisionRow.decision)))
        assert 1 == len(session.scalars(select(AuditEventRow).where(AuditEventRow.action == "draft.approved")).all())


def test_a_stale_version_is_refused(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """Two people approving the same version: the second is refused and nothing more is queued."""
    draft_id = make_draft()
    with db.session() as session:
        approve(session, draft_id, users["alex"], 1, now=NOW, jobs=jobs, second_approver_for_red=True)
    with pytest.raises(Conflict, match="changed while you had it open"), db.session() as session:
        approve(session, draft_id, users["sam"], 1, now=NOW, jobs=jobs, second_approver_for_red=True)
    assert 1 == len(jobs.queue("submit").job_ids)


def test_a_claim_by_someone_else_blocks_changes_until_it_lapses(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """Opening a draft claims it; another reviewer cannot change it until the claim runs out."""
    draft_id = make_draft()
    with db.session() as session:
        assert None is claim(session, session.get_one(DraftRow, draft_id), users["alex"], now=NOW, minutes=5)
    with db.session() as session:
        assert "Alex Reviewer" == claim(session, session.get_one(DraftRow, draft_id), users["sam"], now=NOW, minutes=5)
    with pytest.raises(ClaimedByOther, match="Alex Reviewer is reviewing draft"), db.session() as session:
        reject(session, draft_id, users["sam"], 1, "not needed", now=NOW)
    with db.session() as session:
        reject(session, draft_id, users["sam"], 1, "not needed", now=NOW + timedelta(minutes=6))
    assert "rejected" == draft(db, draft_id).status


def test_red_risk_needs_two_different_approvers(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """The first approval of a red draft waits for a second person; the same person cannot give both."""
    draft_id = make_draft(risk="red")
    with db.session() as session:
        assert "awaiting_second_approval" == approve(
            session, draft_id, users["alex"], 1, now=NOW, jobs=jobs, second_approver_for_red=True
        )
    assert [] == jobs.queue("submit").job_ids
    with pytest.raises(BusinessError, match="second, different reviewer"), db.session() as session:
        approve(session, draft_id, users["alex"], 2, now=NOW, jobs=jobs, second_approver_for_red=True)
    with db.session() as session:
        assert "approved" == approve(
            session, draft_id, users["sam"], 2, now=NOW, jobs=jobs, second_approver_for_red=True
        )
    assert 1 == len(jobs.queue("submit").job_ids)


def test_edits_are_audited_field_by_field(db: Database, users: dict[str, User], make_draft: Callable[..., int]) -> None:
    """An edit's audit event holds exactly the changed fields, before and after, and starts a new content version."""
    draft_id = make_draft(payload={"child": "N100003", "present": False})
    with db.session() as session:
        save_edits(session, draft_id, users["alex"], 1, now=NOW, payload={"child": "N100003", "present": True})
    with db.session() as session:
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "draft.edited")).one()
        assert ({"payload.present": False}, {"payload.present": True, "content_version": 2}) == (
            event.before,
            event.after,
        )
    assert (2, 2) == (draft(db, draft_id).row_version, draft(db, draft_id).content_version)


def test_a_response_text_is_edited_and_kept(
    db: Database, users: dict[str, User], make_draft: Callable[..., int]
) -> None:
    """The ISR response's text is what the partner receives: a reviewer's edit to it is stored."""
    draft_id = make_draft(workflow="isr_response", text="Response text.")
    with db.session() as session:
        save_edits(session, draft_id, users["alex"], 1, now=NOW, text="Edited response.")
    assert "Edited response." == draft(db, draft_id).text


@pytest.mark.parametrize(
    ("changes", "edit"),
    [
        ({}, {"text": "A notice text nobody would receive."}),  # Encompass: the bot sends the fields only
        ({"workflow": "marac", "policy": None}, {"payload": {"child": "N100099"}}),  # MARAC: fields not editable
    ],
)
def test_an_edit_that_would_not_be_sent_is_refused(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], changes: dict, edit: dict
) -> None:
    """Editing what the bot does not send is refused with the reason, and nothing changes."""
    draft_id = make_draft(**changes)
    with pytest.raises(BusinessError, match="not sent|cannot be edited") as refused, db.session() as session:
        save_edits(session, draft_id, users["alex"], 1, now=NOW, **edit)
    assert "not_editable" == refused.value.code
    assert (1, "Notice text.", {"child": "N100003"}) == (
        draft(db, draft_id).row_version,
        draft(db, draft_id).text,
        draft(db, draft_id).payload,
    )


def test_an_edit_by_the_second_approver_needs_two_approvals_again(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """Red draft: Alex approves; Sam rewrites it and approves. Nothing is sent until a second person approves
    Sam's words (here Alex again); each approval names the version it approved."""
    draft_id = make_draft(risk="red", payload={"child": "N100003", "present": False})
    with db.session() as session:
        approve(session, draft_id, users["alex"], 1, now=NOW, jobs=jobs, second_approver_for_red=True)
    with db.session() as session:
        edited = save_edits(session, draft_id, users["sam"], 2, now=NOW, payload={"child": "N100003", "present": True})
        outcome = approve(
            session, draft_id, users["sam"], edited.row_version, now=NOW, jobs=jobs, second_approver_for_red=True
        )
    assert "awaiting_second_approval" == outcome
    assert [] == jobs.queue("submit").job_ids
    with db.session() as session:
        cleared = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "draft.edited")).one()
        assert ["Alex Reviewer"] == cleared.after["approvals_cleared"]
    current = draft(db, draft_id)
    with db.session() as session:
        assert "approved" == approve(
            session, draft_id, users["alex"], current.row_version, now=NOW, jobs=jobs, second_approver_for_red=True
        )
    with db.session() as session:
        approvals = session.execute(
            select(DecisionRow.user_id, DecisionRow.content_version)
            .where(DecisionRow.decision.in_(("first_approval", "approved")))
            .order_by(DecisionRow.id)
        ).all()
    assert [(users["alex"].id, 1), (users["sam"].id, 2), (users["alex"].id, 2)] == [tuple(row) for row in approvals]
    assert 1 == len(jobs.queue("submit").job_ids)


def test_the_first_approver_cannot_edit_and_keep_the_approval(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """An edit by the first approver clears their approval: the new words wait for two approvals."""
    draft_id = make_draft(risk="red", payload={"child": "N100003", "present": False})
    with db.session() as session:
        approve(session, draft_id, users["alex"], 1, now=NOW, jobs=jobs, second_approver_for_red=True)
    with db.session() as session:
        save_edits(session, draft_id, users["alex"], 2, now=NOW, payload={"child": "N100003", "present": True})
    assert None is draft(db, draft_id).first_approver
    with db.session() as session:
        assert "awaiting_second_approval" == approve(
            session, draft_id, users["sam"], 3, now=NOW, jobs=jobs, second_approver_for_red=True
        )
    assert [] == jobs.queue("submit").job_ids


def test_saving_nothing_changed_keeps_the_version(
    db: Database, users: dict[str, User], make_draft: Callable[..., int]
) -> None:
    """Saving without a change writes no event and keeps the version, so nobody else's work is refused."""
    draft_id = make_draft()
    with db.session() as session:
        save_edits(session, draft_id, users["alex"], 1, now=NOW, text="Notice text.", payload={"child": "N100003"})
    assert 1 == draft(db, draft_id).row_version


@pytest.mark.parametrize("decide", [reject, return_for_fix])
def test_reject_and_return_need_a_reason(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], decide: Callable[..., None]
) -> None:
    """An empty reason is refused; the draft stays awaiting review."""
    draft_id = make_draft()
    with pytest.raises(BusinessError, match="Say "), db.session() as session:
        decide(session, draft_id, users["alex"], 1, "  ", now=NOW)
    assert "awaiting_review" == draft(db, draft_id).status


def test_a_decided_draft_cannot_be_decided_again(
    db: Database, users: dict[str, User], make_draft: Callable[..., int]
) -> None:
    """Once returned, a draft is not approved or rejected by a late click on an old page."""
    draft_id = make_draft()
    with db.session() as session:
        return_for_fix(session, draft_id, users["alex"], 1, "the child's school is wrong", now=NOW)
    with pytest.raises(Conflict), db.session() as session:
        reject(session, draft_id, users["sam"], 2, "late", now=NOW)


def test_an_approved_draft_not_being_sent_is_taken_back_and_needs_its_approvals_again(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """Approved, its send queued behind a paused portal: a person takes it back with a reason; the old approval
    no longer counts, a paused submission is withdrawn (resume will not send it), and the move is audited."""
    draft_id = make_draft()
    with db.session() as session:
        approve(session, draft_id, users["alex"], 1, now=NOW, jobs=jobs, second_approver_for_red=True)
        session.add(SubmissionRow(draft_id=draft_id, portal="school_portal", key="VHUB-1-00", status="paused"))
    with db.session() as session:
        take_back(session, draft_id, users["sam"], 2, "the school has changed", now=NOW, jobs=jobs)
    taken = draft(db, draft_id)
    assert ("awaiting_review", 2, True) == (taken.status, taken.content_version, taken.needs_attention)
    with db.session() as session:
        assert "withdrawn" == session.scalars(select(SubmissionRow.status)).one()
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "draft.taken_back")).one()
        assert ("sam", "approved", "awaiting_review") == (event.actor, event.before["status"], event.after["status"])
    with db.session() as session:  # Alex's approval was of the earlier round: approving again is not refused
        assert "approved" == approve(
            session, draft_id, users["alex"], taken.row_version, now=NOW, jobs=jobs, second_approver_for_red=True
        )


def test_a_draft_being_sent_right_now_is_not_taken_back(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """While a worker runs its submit job, taking the draft back is refused with what to do; nothing changes."""
    draft_id = make_draft()
    with db.session() as session:
        approve(session, draft_id, users["alex"], 1, now=NOW, jobs=jobs, second_approver_for_red=True)
    queued = jobs.queue("submit").jobs[0]
    with jobs.connection.pipeline() as pipeline:  # what a worker records as it starts the job
        Execution.create(queued, ttl=60, pipeline=pipeline, worker_name="worker-1")
        pipeline.execute()
    with pytest.raises(BusinessError, match="being sent right now") as refused, db.session() as session:
        take_back(session, draft_id, users["sam"], 2, "wrong school", now=NOW, jobs=jobs)
    assert "being_sent" == refused.value.code
    assert ("approved", 2) == (draft(db, draft_id).status, draft(db, draft_id).row_version)


def test_a_draft_under_review_cannot_be_taken_back(
    db: Database, users: dict[str, User], make_draft: Callable[..., int], jobs: Jobs
) -> None:
    """Only an approved draft not yet sent can be taken back."""
    draft_id = make_draft()
    with pytest.raises(Conflict, match="only an approved draft"), db.session() as session:
        take_back(session, draft_id, users["sam"], 1, "why not", now=NOW, jobs=jobs)
