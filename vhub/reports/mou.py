"""The MOU's figures per authority: referrals sent, decided, decided within the MOU's time, median time to a
decision, escalations open; and the monthly MOU report for the partnership board (HTML and CSV), with the referral
quality audit of the month's sample (vhub/reports/referral_audit.py).

A referral counts in the period it was sent in; it is decided by the first decision its front door recorded, and
within the MOU's time when that decision came by the time config/mou.toml gives its authority and risk. Its outcome
is the front door's latest decision: a revised one counts once, as revised, under what it became. References
and authorities only: nothing here names a person.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vhub import csv_export
from vhub.clock import uk_time
from vhub.drafting.environment import environment
from vhub.models import LONDON
from vhub.mou import OUTCOMES, MouConfig, mou_config
from vhub.referral_audit import audit_config
from vhub.reports.referral_audit import AuditSection, build_audit_section, mean_text, write_audit_csvs
from vhub.store.partner_decisions import latest_decisions, open_escalations, sent_referrals
from vhub.store.tables import DecisionEscalationRow, PartnerDecisionRow, SubmissionRow
from vhub.triage import load_config

RECENT_DAYS = 30
"""The dashboard and the morning report count the referrals sent in this many days."""


@dataclass(frozen=True)
class AuthorityFigures:
    authority: str  # key of config/authorities.toml
    front_door: str
    sent: int
    decided: int
    within_mou: int
    median_hours: float | None  # sent to first decision, hours
    escalations_open: int
    escalations_opened: int = 0  # in the period (the monthly report)
    outcomes: dict[str, int] = field(default_factory=dict)  # decided, by the latest decision's outcome
    revised: int = 0  # decided, then the decision changed by the front door

    @property
    def within_share(self) -> str:
        return f"{self.within_mou / self.decided:.0%}" if self.decided else "—"

    @property
    def median_text(self) -> str:
        return duration_text(self.median_hours)


@dataclass(frozen=True)
class OpenEscalation:
    draft_id: int
    authority: str
    partner_reference: str
    risk: str
    step: int
    police_role: str
    partner_role: str
    decision_due_at: datetime  # aware; the CSV writes it in UK time with its zone, as every time it holds

    @property
    def decision_due(self) -> str:
        """When the decision fell due, in UK time, as pages and reports show it."""
        return uk_time(self.decision_due_at)


def duration_text(hours: float | None) -> str:
    """ "5 h 20 min", "2 days 3 h"; "—" for none."""
    if hours is None:
        return "—"
    minutes = round(hours * 60)
    if minutes >= 24 * 60:
        days, rest = divmod(minutes, 24 * 60)
        return f"{days} day{'' if days == 1 else 's'} {rest // 60} h"
    return f"{minutes // 60} h {minutes % 60} min"


def figures(
    session: Session, mou: MouConfig, front_doors: dict[str, str], start: datetime, end: datetime
) -> list[AuthorityFigures]:
    """Per authority (every one of ``front_doors``: key -> its front door's name), for referrals sent from ``start``
    up to ``end``; escalations open as the store holds them now."""
    first = (
        select(PartnerDecisionRow.draft_id, func.min(PartnerDecisionRow.decided_at).label("decided_at"))
        .group_by(PartnerDecisionRow.draft_id)
        .subquery()
    )
    first_decided = {
        draft_id: (outcome, decided)
        for draft_id, outcome, decided in session.execute(
            select(PartnerDecisionRow.draft_id, PartnerDecisionRow.outcome, PartnerDecisionRow.decided_at)
            .join(first, (first.c.draft_id == PartnerDecisionRow.draft_id))
            .where(PartnerDecisionRow.decided_at == first.c.decided_at)
        ).all()
    }
    latest = latest_decisions(session)
    sent: dict[str, list[tuple[int, str | None, datetime]]] = {key: [] for key in front_doors}
    for draft, submission in session.execute(
        sent_referrals().where(SubmissionRow.sent_at >= start, SubmissionRow.sent_at < end)
    ).all():
        assert submission.sent_at is not None and draft.authority is not None
        sent.setdefault(draft.authority, []).append((draft.id, draft.risk, submission.sent_at))
    open_by = dict(
        session.execute(
            select(DecisionEscalationRow.authority, func.count(func.distinct(DecisionEscalationRow.draft_id)))
            .where(DecisionEscalationRow.closed_at.is_(None))
            .group_by(DecisionEscalationRow.authority)
        ).all()
    )
    opened_by = dict(
        session.execute(
            select(DecisionEscalationRow.authority, func.count(func.distinct(DecisionEscalationRow.draft_id)))
            .where(DecisionEscalationRow.opened_at >= start, DecisionEscalationRow.opened_at < end)
            .group_by(DecisionEscalationRow.authority)
        ).all()
    )
    result = []
    for authority in sorted(sent):
        hours: list[float] = []
        within = 0
        revised = 0
        outcomes: dict[str, int] = {key: 0 for key in OUTCOMES}
        for draft_id, risk, sent_at in sent[authority]:
            if draft_id not in first_decided:
                continue
            first_outcome, decided = first_decided[draft_id]
            hours.append(max((decided - sent_at).total_seconds(), 0) / 3600)
            within += decided <= mou.due(authority, risk, sent_at)
            outcome, latest_at = latest[draft_id]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            revised += (outcome, latest_at) != (first_outcome, decided)
        result.append(
            AuthorityFigures(
                authority=authority,
                front_door=front_doors.get(authority, authority),
                sent=len(sent[authority]),
                decided=len(hours),
                within_mou=within,
                median_hours=statistics.median(hours) if hours else None,
                escalations_open=int(open_by.get(authority, 0)),
                escalations_opened=int(opened_by.get(authority, 0)),
                outcomes=outcomes,
                revised=revised,
            )
        )
    return result


def front_doors() -> dict[str, str]:
    """Authority key -> its front door's name, from config/authorities.toml."""
    return {key: authority.childrens_services for key, authority in load_config().authorities.items()}


def recent_figures(session: Session, now: datetime, days: int = RECENT_DAYS) -> list[AuthorityFigures]:
    """Per authority, the referrals sent in the ``days`` days before ``now`` and the decisions on them (the dashboard
    and the morning report)."""
    return figures(session, mou_config(), front_doors(), now - timedelta(days=days), now)


def escalations_open(session: Session) -> list[OpenEscalation]:
    """Referrals with an escalation open, at their latest step, soonest due first."""
    return [
        OpenEscalation(
            draft_id=row.draft_id,
            authority=row.authority,
            partner_reference=row.partner_reference,
            risk=row.risk or "-",
            step=row.step,
            police_role=row.police_role,
            partner_role=row.partner_role,
            decision_due_at=row.decision_due_at,
        )
        for row in open_escalations(session)
    ]


def month_bounds(month: str) -> tuple[date, datetime, datetime]:
    """``YYYY-MM`` -> its first day and its UK bounds (UTC); ValueError with a plain message otherwise."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"{month!r} is not a month: give it as YYYY-MM, for example 2026-11") from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=LONDON)
    end = datetime.combine(following, datetime.min.time(), tzinfo=LONDON)
    return first, start, end


@dataclass(frozen=True)
class MouReport:
    month: date
    generated_at: datetime
    authorities: list[AuthorityFigures]
    open_now: list[OpenEscalation]
    timescales: dict[str, dict[str, int]]  # authority -> risk -> working days
    front_doors: dict[str, str]  # authority -> its front door's name
    audit: AuditSection | None = None  # the referral quality audit of the month's sample, with its trend

    @property
    def totals(self) -> AuthorityFigures:
        rows = self.authorities
        decided = sum(row.decided for row in rows)
        return AuthorityFigures(
            authority="all",
            front_door="All four front doors",
            sent=sum(row.sent for row in rows),
            decided=decided,
            within_mou=sum(row.within_mou for row in rows),
            median_hours=None,  # a median of the front doors' medians is no median: given per front door only
            escalations_open=sum(row.escalations_open for row in rows),
            escalations_opened=sum(row.escalations_opened for row in rows),
        )

    def chart_within(self) -> list[tuple[str, float, str]]:
        """Share decided within the MOU's time, per front door (for the bar chart)."""
        return [
            (row.front_door, row.within_mou / row.decided if row.decided else 0.0, row.within_share)
            for row in self.authorities
        ]


def build_mou_report(
    session: Session, mou: MouConfig, front_doors: dict[str, str], month: str, now: datetime
) -> MouReport:
    first, start, end = month_bounds(month)
    return MouReport(
        month=first,
        generated_at=now,
        authorities=figures(session, mou, front_doors, start, end),
        open_now=escalations_open(session),
        timescales={
            authority: {risk: mou.working_days(authority, risk) for risk in ("red", "amber", "green")}
            for authority in front_doors
        },
        front_doors=front_doors,
        audit=build_audit_section(session, audit_config(), front_doors, month),
    )


def write_mou_report(report: MouReport, folder: Path) -> list[Path]:
    """mou-YYYY-MM.html and mou-YYYY-MM.csv (one row per authority), the open escalations' CSV, then the referral
    audit's CSVs (per front door and risk, agreement of joint audits, the trend)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"mou-{report.month:%Y-%m}"
    html = folder / f"{stem}.html"
    html.write_text(
        environment()
        .get_template("reports/mou.html.j2")
        .render(report=report, outcome_labels=OUTCOMES, mean_text=mean_text),
        encoding="utf-8",
    )
    header = [
        "authority",
        "front_door",
        "sent",
        "decided",
        "decided_within_mou",
        "median_hours_to_decision",
        "escalations_opened",
        "escalations_open",
        *(f"outcome_{key}" for key in OUTCOMES),
        "decisions_revised",
    ]
    rows = [
        [
            row.authority,
            row.front_door,
            row.sent,
            row.decided,
            row.within_mou,
            "" if row.median_hours is None else round(row.median_hours, 1),
            row.escalations_opened,
            row.escalations_open,
            *(row.outcomes.get(key, 0) for key in OUTCOMES),
            row.revised,
        ]
        for row in report.authorities
    ]
    table = folder / f"{stem}.csv"
    csv_export.write(table, header, rows)
    escalations = folder / f"{stem}-open-escalations.csv"
    fields = list(OpenEscalation.__dataclass_fields__)
    csv_export.write(escalations, fields, (asdict(item).values() for item in report.open_now))
    audits = write_audit_csvs(report.audit, folder, stem) if report.audit is not None else []
    return [html, table, escalations, *audits]
