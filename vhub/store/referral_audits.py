"""The referral quality audit in the store: each month's sample of sent referrals, drawn once, and auditors' scores.

A month's sample is drawn from the referrals sent in it (UK time) and acknowledged with the front door's reference.
Places go first to each front door's minimum, then to each (front door, risk) group in proportion to its referrals
times its risk's weight (highest averages, so the split is exact and the same every time); which referrals of a
group fill its places is drawn by a generator seeded by the month. The sample is stored with the rules it used; a
second draw of the month finds it and changes nothing. Every draw and every score (and each amendment) is audited.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vhub.errors import BusinessError
from vhub.referral_audit import RISKS, AuditConfig, Sample, month_seed
from vhub.store.audit import record_event
from vhub.store.partner_decisions import sent_referrals
from vhub.store.tables import AuditSampleReferralRow, AuditSampleRow, ReferralAuditRow, SubmissionRow


@dataclass(frozen=True)
class Candidate:
    """A referral sent in the month: what the sample keeps of it (references only)."""

    draft_id: int
    authority: str
    risk: str | None
    partner_reference: str
    sent_at: datetime
    content_version: int

    @property
    def stratum(self) -> tuple[str, str]:
        return self.authority, self.risk if self.risk in RISKS else "green"


def candidates(session: Session, start: datetime, end: datetime) -> list[Candidate]:
    """The referrals sent from ``start`` up to ``end``, by draft id (the order the draw works through)."""
    rows = session.execute(
        sent_referrals()
        .where(SubmissionRow.sent_at >= start, SubmissionRow.sent_at < end)
        .order_by(SubmissionRow.draft_id)
    ).all()
    found = []
    for draft, sent in rows:
        assert sent.sent_at is not None and sent.partner_reference is not None  # sent_referrals() holds only those
        found.append(
            Candidate(
                draft.id, str(draft.authority), draft.risk, sent.partner_reference, sent.sent_at, draft.content_version
            )
        )
    return found


def allocate(counts: dict[tuple[str, str], int], rules: Sample) -> dict[tuple[str, str], int]:
    """Places per (authority, risk) group: each authority's minimum first, then the rest of ``rules.size``, each place
    to the group with the highest referrals x weight / (places + 1) that still has a referral left (ties: the first
    group in order). No randomness: the same counts always give the same split."""
    places = {group: 0 for group in counts}
    order = sorted(counts, key=lambda group: (group[0], RISKS.index(group[1])))

    def give(groups: list[tuple[str, str]], seats: int) -> None:
        for _ in range(seats):
            open_groups = [group for group in groups if places[group] < counts[group]]
            if not open_groups:
                return
            best = max(
                open_groups,
                key=lambda g: (counts[g] * rules.risk_weights.of(g[1]) / (places[g] + 1), -order.index(g)),
            )
            places[best] += 1

    for authority in sorted({group[0] for group in order}):
        own = [group for group in order if group[0] == authority]
        give(own, min(rules.min_per_authority, sum(counts[group] for group in own)))
    give(order, min(rules.size, sum(counts.values())) - sum(places.values()))
    return places


def choose(found: list[Candidate], rules: Sample, month: str) -> list[Candidate]:
    """The month's sample of ``found``: the same referrals for the same month and referrals, wherever it is drawn."""
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in sorted(found, key=lambda item: item.draft_id):
        groups.setdefault(candidate.stratum, []).append(candidate)
    places = allocate({group: len(items) for group, items in groups.items()}, rules)
    generator = random.Random(month_seed(month))  # noqa: S311 (a reproducible sample, not a secret)
    chosen: list[Candidate] = []
    for group in sorted(groups, key=lambda g: (g[0], RISKS.index(g[1]))):
        chosen.extend(generator.sample(groups[group], places[group]))
    return sorted(chosen, key=lambda item: item.draft_id)


def draw_sample(
    session: Session,
    month: str,
    start: datetime,
    end: datetime,
    config: AuditConfig,
    *,
    actor: str,
    now: datetime,
    before_the_end: bool = False,
) -> tuple[AuditSampleRow, bool]:
    """The month's sample, drawn and stored now if it was not before: (sample, drawn now). Refuses a month not yet
    over (its referrals are not all sent), so a month is only ever drawn from whole; ``before_the_end`` draws it as
    it stands (the demo's own throwaway store only)."""
    existing = session.scalar(select(AuditSampleRow).where(AuditSampleRow.month == month))
    if existing is not None:
        return existing, False
    if now < end and not before_the_end:
        raise BusinessError(
            f"{month} is not over yet: its sample is drawn once the month has ended (the scheduler draws it early on "
            "the 1st of the next month).",
            code="month_not_over",
        )
    found = candidates(session, start, end)
    chosen = choose(found, config.sample, month)
    sample = AuditSampleRow(
        month=month, population=len(found), rules=config.sample.model_dump(mode="json"), drawn_at=now, drawn_by=actor
    )
    try:
        with session.begin_nested():
            session.add(sample)
            session.flush()
    except IntegrityError:  # drawn at the same moment by another process: theirs stands
        return session.scalars(select(AuditSampleRow).where(AuditSampleRow.month == month)).one(), False
    session.add_all(
        AuditSampleReferralRow(
            sample_id=sample.id,
            draft_id=item.draft_id,
            authority=item.authority,
            risk=item.risk,
            partner_reference=item.partner_reference,
            sent_at=item.sent_at,
            content_version=item.content_version,
        )
        for item in chosen
    )
    by_authority: dict[str, int] = {}
    for item in chosen:
        by_authority[item.authority] = by_authority.get(item.authority, 0) + 1
    record_event(
        session,
        actor=actor,
        action="audit_sample.drawn",
        entity_type="audit_sample",
        entity_id=month,
        after={
            "population": len(found),
            "sampled": len(chosen),
            "drafts": [item.draft_id for item in chosen],
            "by_authority": by_authority,
            "rules": sample.rules,
        },
    )
    session.flush()
    return sample, True


def sampled(session: Session, month: str, authority: str | None = None) -> list[AuditSampleReferralRow]:
    """The month's sampled referrals (of one authority, if given), by draft id."""
    query = (
        select(AuditSampleReferralRow)
        .join(AuditSampleRow, AuditSampleRow.id == AuditSampleReferralRow.sample_id)
        .where(AuditSampleRow.month == month)
        .order_by(AuditSampleReferralRow.draft_id)
    )
    if authority is not None:
        query = query.where(AuditSampleReferralRow.authority == authority)
    return list(session.scalars(query))


def sample_months(session: Session) -> list[str]:
    """Every month drawn, newest first."""
    return list(session.scalars(select(AuditSampleRow.month).order_by(AuditSampleRow.month.desc())))


def scores_of(session: Session, sampled_ids: list[int]) -> dict[int, list[ReferralAuditRow]]:
    """Each sampled referral's scores, oldest first."""
    found: dict[int, list[ReferralAuditRow]] = {item: [] for item in sampled_ids}
    if sampled_ids:
        for row in session.scalars(
            select(ReferralAuditRow).where(ReferralAuditRow.sampled_id.in_(sampled_ids)).order_by(ReferralAuditRow.id)
        ):
            found[row.sampled_id].append(row)
    return found


def save_scores(
    session: Session,
    item: AuditSampleReferralRow,
    *,
    user_id: int,
    username: str,
    side: str,
    scores: dict[str, int],
    comment: str,
    now: datetime,
) -> tuple[ReferralAuditRow, bool]:
    """The auditor's scores of ``item``: stored, or their earlier scores amended (one row per auditor and referral),
    audited either way with before and after. Returns (row, amended)."""
    after: dict[str, Any] = {"draft": item.draft_id, "side": side, "scores": scores, "comment": comment}
    draft = str(item.draft_id)  # audited against the referral's draft, beside the rest of its trail
    row = _scores_by(session, item.id, user_id)
    if row is None:
        fresh = ReferralAuditRow(sampled_id=item.id, user_id=user_id, side=side, scores=scores, comment=comment)
        fresh.created_at = fresh.updated_at = now
        try:
            with session.begin_nested():
                session.add(fresh)
                session.flush()
        except IntegrityError:  # the same auditor's other save (a second tab, a double click) came first: amend it
            row = _scores_by(session, item.id, user_id)
        else:
            action = "referral_audit.scored"
            record_event(session, actor=username, action=action, entity_type="draft", entity_id=draft, after=after)
            return fresh, False
    assert row is not None
    before = {"draft": item.draft_id, "side": row.side, "scores": row.scores, "comment": row.comment}
    row.scores, row.comment, row.updated_at = scores, comment, now
    record_event(
        session,
        actor=username,
        action="referral_audit.amended",
        entity_type="draft",
        entity_id=draft,
        before=before,
        after=after,
    )
    return row, True


def _scores_by(session: Session, sampled_id: int, user_id: int) -> ReferralAuditRow | None:
    return session.scalar(
        select(ReferralAuditRow)
        .where(ReferralAuditRow.sampled_id == sampled_id, ReferralAuditRow.user_id == user_id)
        .with_for_update()
    )
