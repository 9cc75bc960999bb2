"""Children's services decisions on the referrals the force sent, and the MOU escalations of those overdue.

A referral is open from the moment it is sent until its front door's decision is stored. A decision is stored once
(the same one read again adds nothing) and closes the referral's open escalation steps; each step is opened once
per referral. A front door may revise its decision: a decided referral is read again for config/mou.toml's
``reread_decided_days`` after its latest decision, and a changed one is stored as a new row beside the first
(whose time the MOU's figures keep). Every change is audited against the draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from vhub.mou import OUTCOMES
from vhub.store.audit import record_event
from vhub.store.draft_status import DraftStatus
from vhub.store.tables import DecisionEscalationRow, DraftRow, PartnerDecisionRow, SubmissionRow

ACTOR = "vhub:decisions"


@dataclass(frozen=True)
class SentReferral:
    """A referral sent to a front door whose decision is still to be read: references only."""

    draft_id: int
    authority: str
    risk: str | None
    partner_reference: str
    source_ref: str  # the incident's reference
    sent_at: datetime
    latest: tuple[str, datetime] | None = None  # the front door's latest decision stored (outcome, decided at)


def sent_referrals() -> Select[DraftRow, SubmissionRow]:
    """Referrals sent and acknowledged with the portal's reference: (draft, submission) rows."""
    return (
        select(DraftRow, SubmissionRow)
        .join(SubmissionRow, SubmissionRow.draft_id == DraftRow.id)
        .where(
            DraftRow.workflow == "referral",
            DraftRow.status == DraftStatus.SENT,
            DraftRow.authority.is_not(None),
            SubmissionRow.status == "sent",
            SubmissionRow.partner_reference.is_not(None),
            SubmissionRow.sent_at.is_not(None),
        )
    )


def open_referrals(session: Session, authority: str | None = None) -> list[SentReferral]:
    """Sent referrals with no decision stored, oldest sent first (of one authority, if given)."""
    decided = exists().where(PartnerDecisionRow.draft_id == DraftRow.id)
    query = sent_referrals().where(~decided).order_by(SubmissionRow.sent_at, DraftRow.id)
    if authority is not None:
        query = query.where(DraftRow.authority == authority)
    return [_referral(draft, sent) for draft, sent in session.execute(query).all()]


def referrals_to_read(session: Session, since: datetime, authority: str | None = None) -> list[SentReferral]:
    """The open referrals, then those whose latest decision stored was made at ``since`` or later (a front door may
    still revise it), each with that decision; oldest sent first in each part (of one authority, if given)."""
    latest = latest_decisions(session)
    query = sent_referrals().where(DraftRow.id.in_(select(PartnerDecisionRow.draft_id)))
    if authority is not None:
        query = query.where(DraftRow.authority == authority)
    recent = [
        _referral(draft, sent, latest[draft.id])
        for draft, sent in session.execute(query.order_by(SubmissionRow.sent_at, DraftRow.id)).all()
        if latest[draft.id][1] >= since
    ]
    return open_referrals(session, authority) + recent


def latest_decisions(session: Session) -> dict[int, tuple[str, datetime]]:
    """Each decided referral's latest decision stored: draft id -> (outcome, decided at)."""
    latest: dict[int, tuple[str, datetime]] = {}
    for draft_id, outcome, decided_at in session.execute(
        select(PartnerDecisionRow.draft_id, PartnerDecisionRow.outcome, PartnerDecisionRow.decided_at).order_by(
            PartnerDecisionRow.decided_at, PartnerDecisionRow.id
        )
    ):
        latest[draft_id] = (outcome, decided_at)
    return latest


def _referral(draft: DraftRow, sent: SubmissionRow, latest: tuple[str, datetime] | None = None) -> SentReferral:
    assert sent.sent_at is not None  # sent_referrals() holds only those sent
    return SentReferral(
        draft.id, str(draft.authority), draft.risk, str(sent.partner_reference), draft.source_ref, sent.sent_at, latest
    )


def record_decision(
    session: Session, referral: SentReferral, *, outcome: str, wording: str, decided_at: datetime, read_at: datetime
) -> PartnerDecisionRow | None:
    """Store the decision once (None when it is already stored) and close the referral's open escalation steps. A
    decision other than the latest stored is the front door's revision: stored beside it, audited as revised."""
    found = session.scalar(
        select(PartnerDecisionRow.id).where(
            PartnerDecisionRow.draft_id == referral.draft_id,
            PartnerDecisionRow.outcome == outcome,
            PartnerDecisionRow.decided_at == decided_at,
        )
    )
    if found is not None:
        return None
    previous = session.scalars(
        select(PartnerDecisionRow)
        .where(PartnerDecisionRow.draft_id == referral.draft_id)
        .order_by(PartnerDecisionRow.decided_at.desc(), PartnerDecisionRow.id.desc())
        .limit(1)
    ).first()
    row = PartnerDecisionRow(
        draft_id=referral.draft_id,
        authority=referral.authority,
        partner_reference=referral.partner_reference,
        outcome=outcome,
        wording=wording,
        decided_at=decided_at,
        read_at=read_at,
    )
    session.add(row)
    session.flush()
    after = {
        "authority": referral.authority,
        "partner_reference": referral.partner_reference,
        "outcome": outcome,
        "decided_at": decided_at.isoformat(),
    }
    record_event(
        session,
        actor=ACTOR,
        action="partner_decision.recorded" if previous is None else "partner_decision.revised",
        entity_type="draft",
        entity_id=str(referral.draft_id),
        before=None
        if previous is None
        else {"outcome": previous.outcome, "decided_at": previous.decided_at.isoformat()},
        after=after,
    )
    open_steps = session.scalars(
        select(DecisionEscalationRow).where(
            DecisionEscalationRow.draft_id == referral.draft_id, DecisionEscalationRow.closed_at.is_(None)
        )
    ).all()
    for step in open_steps:
        step.closed_at, step.closed_by = read_at, row.id
        record_event(
            session,
            actor=ACTOR,
            action="decision_escalation.closed",
            entity_type="draft",
            entity_id=str(referral.draft_id),
            before={"step": step.step, "closed_at": None},
            after={"step": step.step, "closed_at": read_at.isoformat(), "decision": row.id},
        )
    return row


def open_escalation(
    session: Session,
    referral: SentReferral,
    *,
    step: int,
    police_role: str,
    partner_role: str,
    decision_due_at: datetime,
    at: datetime,
) -> DecisionEscalationRow | None:
    """Open escalation step ``step`` (1 first) of the referral once; None when it was opened before."""
    found = session.scalar(
        select(DecisionEscalationRow.id).where(
            DecisionEscalationRow.draft_id == referral.draft_id, DecisionEscalationRow.step == step
        )
    )
    if found is not None:
        return None
    row = DecisionEscalationRow(
        draft_id=referral.draft_id,
        authority=referral.authority,
        risk=referral.risk,
        partner_reference=referral.partner_reference,
        step=step,
        police_role=police_role,
        partner_role=partner_role,
        decision_due_at=decision_due_at,
        opened_at=at,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=ACTOR,
        action="decision_escalation.opened",
        entity_type="draft",
        entity_id=str(referral.draft_id),
        after={
            "step": step,
            "authority": referral.authority,
            "partner_reference": referral.partner_reference,
            "police_role": police_role,
            "partner_role": partner_role,
            "decision_due_at": decision_due_at.isoformat(),
        },
    )
    return row


def unalerted(session: Session, authority: str) -> list[tuple[DecisionEscalationRow, str]]:
    """Open escalation steps of ``authority`` whose alert no channel has taken yet, with the incident's reference,
    oldest first."""
    rows = session.execute(
        select(DecisionEscalationRow, DraftRow.source_ref)
        .join(DraftRow, DraftRow.id == DecisionEscalationRow.draft_id)
        .where(
            DecisionEscalationRow.authority == authority,
            DecisionEscalationRow.closed_at.is_(None),
            DecisionEscalationRow.alerted_at.is_(None),
        )
        .order_by(DecisionEscalationRow.id)
    ).all()
    return [(row, source_ref) for row, source_ref in rows]


def mark_alerted(session: Session, escalation_id: int, at: datetime) -> None:
    row = session.get(DecisionEscalationRow, escalation_id)
    if row is not None and row.alerted_at is None:
        row.alerted_at = at


def open_escalations(session: Session) -> list[DecisionEscalationRow]:
    """Every open escalation step, latest step of each referral only, soonest due first."""
    rows = session.scalars(
        select(DecisionEscalationRow)
        .where(DecisionEscalationRow.closed_at.is_(None))
        .order_by(DecisionEscalationRow.decision_due_at, DecisionEscalationRow.draft_id, DecisionEscalationRow.step)
    ).all()
    latest: dict[int, DecisionEscalationRow] = {}
    for row in rows:
        latest[row.draft_id] = row
    return list(latest.values())


@dataclass(frozen=True)
class PartnerOutcome:
    """What the front door decided on one referral (each change, oldest first) and the MOU escalation steps."""

    decisions: list[tuple[str, str, datetime]]  # outcome's label, the portal's words, decided at
    escalations: list[tuple[int, str, datetime, datetime | None]]  # step, role told, opened, closed


def partner_outcome(session: Session, draft_id: int) -> PartnerOutcome:
    decisions = [
        (OUTCOMES.get(row.outcome, row.outcome), row.wording, row.decided_at)
        for row in session.scalars(
            select(PartnerDecisionRow).where(PartnerDecisionRow.draft_id == draft_id).order_by(PartnerDecisionRow.id)
        )
    ]
    escalations = [
        (row.step, row.police_role, row.opened_at, row.closed_at)
        for row in session.scalars(
            select(DecisionEscalationRow)
            .where(DecisionEscalationRow.draft_id == draft_id)
            .order_by(DecisionEscalationRow.step)
        )
    ]
    return PartnerOutcome(decisions, escalations)
