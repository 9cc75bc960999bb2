"""The morning report: what the night did and what the morning must do first, as HTML with charts and plain text.

The night's counts are everything since the last morning report (on the first, since vhub's first run) up to
when the report is written; what is due and what was missed are by the moment it is for. Counts and
references only (draft numbers, incident references, schools, portals): no person is named, so the report and
its Teams summary can travel.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vhub.alerts import Alert
from vhub.clock import day_bounds, uk_at, uk_day, uk_time
from vhub.drafting.environment import environment
from vhub.reports.mou import RECENT_DAYS, AuthorityFigures, OpenEscalation, escalations_open, recent_figures
from vhub.store.draft_status import DraftStatus
from vhub.store.tables import DataQualityItemRow, DraftRow, RunRow, ScanItemRow, SubmissionRow, TriageResultRow

MORNING_DEADLINE_HOUR = 9
"""Drafts due before this hour (UK time) are listed: schools start by then."""
WORKFLOWS = {
    "referral": "Referral",
    "encompass": "Operation Encompass",
    "marac": "MARAC",
    "isr_response": "ISR response",
}
RISK_ORDER = ("red", "amber", "green", "blue")
NOT_SENT = (DraftStatus.AWAITING_REVIEW, DraftStatus.RETURNED, DraftStatus.APPROVED, DraftStatus.SENDING)
COUNTED = (*NOT_SENT, DraftStatus.SENT)
_ONE_JOB_RUNS = ("encompass_check", "morning_report")
"""Runs that are one job (a check, a report) rather than a read of a source system."""


@dataclass(frozen=True)
class DueDraft:
    """A draft by its references: number, kind, incident or request, the school for a notice, deadline, state."""

    draft_id: int
    workflow: str
    reference: str
    school: str
    deadline: str
    state: str


@dataclass
class MorningReport:
    generated_at: datetime
    since: datetime
    runs: int = 0
    incidents_listed: int = 0
    incidents_stored: int = 0
    incidents_invalid: int = 0
    triaged_by_risk: dict[str, int] = field(default_factory=dict)
    drafts_made: dict[str, int] = field(default_factory=dict)
    sent_by_portal: dict[str, int] = field(default_factory=dict)
    failed_jobs: dict[str, int] = field(default_factory=dict)
    data_quality_open: int = 0
    awaiting_review: int = 0
    due_before_nine: list[DueDraft] = field(default_factory=list)
    missed_yesterday: list[DueDraft] = field(default_factory=list)
    paused_portals: dict[str, str] = field(default_factory=dict)
    partners: list[AuthorityFigures] = field(default_factory=list)  # referrals sent in the last RECENT_DAYS days
    escalations: list[OpenEscalation] = field(default_factory=list)  # children's services decisions overdue
    previous: bool = True  # False: there was no earlier morning report, so the counts go back to the first run

    @property
    def title(self) -> str:
        return f"VHub morning report, {uk_day(self.generated_at):%A %d/%m/%Y}"

    @property
    def recent_days(self) -> int:
        """The children's services decisions are of the referrals sent in this many days."""
        return RECENT_DAYS

    @property
    def drafts_total(self) -> int:
        return sum(self.drafts_made.values())

    @property
    def sent_total(self) -> int:
        return sum(self.sent_by_portal.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed_jobs.values())

    @property
    def chart_risk(self) -> list[tuple[str, float, str]]:
        return [
            (level, self.triaged_by_risk.get(level, 0), str(self.triaged_by_risk.get(level, 0))) for level in RISK_ORDER
        ]

    @property
    def chart_drafts(self) -> list[tuple[str, float, str]]:
        return [(WORKFLOWS.get(kind, kind), count, str(count)) for kind, count in sorted(self.drafts_made.items())]

    @property
    def chart_morning(self) -> list[tuple[str, float, str]]:
        rows = [
            ("Due before 09:00", len(self.due_before_nine)),
            ("Missed yesterday", len(self.missed_yesterday)),
            ("Failed jobs waiting", self.failed_total),
        ]
        return [(label, value, str(value)) for label, value in rows]

    def facts(self) -> dict[str, str | int]:
        """The headline counts, as the Teams card and the text report give them."""
        return {
            "Since": f"{uk_time(self.since)} (the last report)"
            if self.previous
            else f"{uk_time(self.since)} (the first run)",
            "Scans run": self.runs,
            "Incidents read": f"{self.incidents_listed} listed, {self.incidents_stored} stored, "
            f"{self.incidents_invalid} invalid (for a person)",
            "Triaged": ", ".join(f"{level} {self.triaged_by_risk.get(level, 0)}" for level in RISK_ORDER),
            "Drafts made": self.drafts_total,
            "Drafts sent": self.sent_total,
            "Waiting for review": self.awaiting_review,
            "Failed jobs waiting": self.failed_total,
            "Data-quality items open": self.data_quality_open,
            "Drafts due before 09:00": len(self.due_before_nine),
            "Deadlines missed yesterday": len(self.missed_yesterday),
            "Paused portals": ", ".join(sorted(self.paused_portals)) or "none",
            "Children's services decisions overdue": len(self.escalations),
        }


def build_morning(
    session: Session, now: datetime, *, failed_jobs: dict[str, int], paused_portals: dict[str, str]
) -> MorningReport:
    """The report for ``now`` (aware): the store's counts, with the queues' ``failed_jobs`` and ``paused_portals``."""
    today = uk_day(now)
    previous = session.scalar(
        select(func.max(RunRow.started_at)).where(
            RunRow.kind == "morning_report", RunRow.status == "complete", RunRow.started_at < now
        )
    )
    first = session.scalar(select(func.min(RunRow.started_at)))
    since = previous or first or now - timedelta(days=1)
    report = MorningReport(
        generated_at=now,
        since=since,
        failed_jobs=dict(failed_jobs),
        paused_portals=dict(paused_portals),
        previous=previous is not None,
    )
    in_night = (RunRow.started_at >= since, RunRow.kind.not_in(_ONE_JOB_RUNS))
    report.runs = session.scalar(select(func.count(RunRow.id)).where(*in_night)) or 0
    # A version listed by several scans (re-read, or invalid each time) is one incident version read.
    versions = session.execute(
        select(ScanItemRow.reference, ScanItemRow.last_modified, ScanItemRow.status)
        .join(RunRow, RunRow.id == ScanItemRow.run_id)
        .where(*in_night)
        .distinct()
    ).all()
    report.incidents_listed = len({(row.reference, row.last_modified) for row in versions})
    items = Counter(row.status for row in versions)
    report.incidents_stored, report.incidents_invalid = items["stored"], items["invalid"]
    report.triaged_by_risk = dict(
        session.execute(
            select(TriageResultRow.risk, func.count())
            .where(TriageResultRow.triaged_at >= since)
            .group_by(TriageResultRow.risk)
        ).all()
    )
    report.drafts_made = dict(
        session.execute(
            select(DraftRow.workflow, func.count())
            .where(DraftRow.created_at >= since)
            .where(DraftRow.status != DraftStatus.SUPERSEDED)
            .group_by(DraftRow.workflow)
        ).all()
    )
    report.sent_by_portal = dict(
        session.execute(
            select(SubmissionRow.portal, func.count())
            .where(SubmissionRow.status == "sent", SubmissionRow.sent_at >= since)
            .group_by(SubmissionRow.portal)
        ).all()
    )
    report.data_quality_open = (
        session.scalar(select(func.count(DataQualityItemRow.id)).where(DataQualityItemRow.status == "open")) or 0
    )
    report.awaiting_review = (
        session.scalar(select(func.count(DraftRow.id)).where(DraftRow.status == DraftStatus.AWAITING_REVIEW)) or 0
    )
    report.due_before_nine = _due(session, now, uk_at(today, MORNING_DEADLINE_HOUR))
    yesterday_start, yesterday_end = day_bounds(today - timedelta(days=1))
    report.missed_yesterday = _missed(session, yesterday_start, yesterday_end)
    report.partners = recent_figures(session, now)
    report.escalations = escalations_open(session)
    return report


def _row(draft: DraftRow, state: str) -> DueDraft:
    return DueDraft(
        draft_id=draft.id,
        workflow=WORKFLOWS.get(draft.workflow, draft.workflow),
        reference=draft.source_ref,
        school=draft.recipient_name if draft.workflow == "encompass" else "-",
        deadline=uk_time(draft.deadline),
        state=state,
    )


def _state(status: str) -> str:
    return {
        DraftStatus.AWAITING_REVIEW: "waiting for review",
        DraftStatus.RETURNED: "returned for a data fix",
        DraftStatus.APPROVED: "approved, not yet sent",
        DraftStatus.SENDING: "being sent",
        DraftStatus.SENT: "sent",
    }.get(DraftStatus(status), status.replace("_", " "))


def _due(session: Session, now: datetime, until: datetime) -> list[DueDraft]:
    """Drafts not yet sent whose deadline falls after ``now`` and by ``until``, soonest first."""
    drafts = session.scalars(
        select(DraftRow)
        .where(DraftRow.status.in_(NOT_SENT), DraftRow.deadline > now, DraftRow.deadline <= until)
        .order_by(DraftRow.deadline, DraftRow.id)
    ).all()
    return [_row(draft, _state(draft.status)) for draft in drafts]


def _missed(session: Session, start: datetime, end: datetime) -> list[DueDraft]:
    """Drafts due in [start, end) that were not sent by their deadline (still unsent, or sent late)."""
    rows = session.execute(
        select(DraftRow, SubmissionRow.sent_at)
        .outerjoin(SubmissionRow, SubmissionRow.draft_id == DraftRow.id)
        .where(DraftRow.status.in_(COUNTED), DraftRow.deadline >= start, DraftRow.deadline < end)
        .order_by(DraftRow.deadline, DraftRow.id)
    ).all()
    missed = []
    for draft, sent_at in rows:
        if draft.status != DraftStatus.SENT:
            missed.append(_row(draft, f"not sent ({_state(draft.status)})"))
        elif sent_at is not None and draft.deadline is not None and sent_at > draft.deadline:
            missed.append(_row(draft, f"sent late, {uk_time(sent_at)}"))
    return missed


def summary_card(report: MorningReport, html_name: str) -> Alert:
    """The admins' Teams summary: the headline counts and where the full report is."""
    return Alert(
        title=report.title,
        facts=report.facts(),
        lines=(f"The full report is {html_name} in the reports folder of the data folder (`vhub report morning`).",),
        channel="admins",
    )


def write_morning(report: MorningReport, folder: Path) -> list[Path]:
    """morning-YYYY-MM-DD.html (charts and tables) and .txt; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"morning-{uk_day(report.generated_at).isoformat()}"
    written = []
    for suffix in ("html", "txt"):
        path = folder / f"{stem}.{suffix}"
        template = environment().get_template(f"reports/morning.{suffix}.j2")
        path.write_text(template.render(report=report, facts=report.facts()), encoding="utf-8")
        written.append(path)
    return written
