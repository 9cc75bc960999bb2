"""The dashboard's figures: backlog, oldest waiting drafts, deadline compliance, throughput, bot jobs.

Pure functions of the store (a Session) and ``now``, plus one of the queues; days are London days. A draft
counts as decided at its first approval, rejection or return (a first of two approvals is not a decision).
Every figure is counted in the store (GROUP BY on an index): the page reads counts, never the drafts themselves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.utils import current_timestamp
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from vhub.models import LONDON
from vhub.queues import Jobs
from vhub.reports.mou import AuthorityFigures, OpenEscalation, escalations_open, recent_figures
from vhub.review.queue import STATUSES, TYPES, time_left
from vhub.store.tables import DataQualityItemRow, DecisionRow, DraftRow

DECIDED = ("approved", "rejected", "returned")
BACKLOG = ("awaiting_review", "second_approval", "returned", "approved")  # not yet done with: sent, rejected
RISKS = ("red", "amber", "green", "blue", "none")
DAYS = 7
OLDEST = 10


@dataclass(frozen=True)
class BacklogCell:
    status: str  # awaiting_review, second_approval, returned or approved
    authority: str  # "none" when the draft has no authority (ISR responses)
    risk: str  # red, amber, green, blue or none
    count: int


@dataclass(frozen=True)
class Waiting:
    draft_id: int
    workflow: str
    source_ref: str
    authority: str | None
    risk: str | None
    created_at: datetime
    deadline: datetime | None
    waiting: timedelta
    state: str  # on time, due soon, overdue, no deadline

    @property
    def waiting_text(self) -> str:
        hours = int(self.waiting.total_seconds() // 3600)
        if hours >= 24:
            return f"{hours // 24} day{'' if hours < 48 else 's'} {hours % 24} h"
        return f"{hours} h {self.waiting.seconds % 3600 // 60} min"


@dataclass(frozen=True)
class Compliance:
    """Drafts with a deadline decided in a period, and how many of them before their deadline."""

    decided: int
    on_time: int

    @property
    def share(self) -> float | None:
        return self.on_time / self.decided if self.decided else None

    @property
    def share_text(self) -> str:
        return "—" if self.share is None else f"{self.share:.0%}"

    @property
    def detail(self) -> str:
        if not self.decided:
            return "no drafts with a deadline decided"
        return f"{self.on_time} of {self.decided} decided before the deadline"


@dataclass(frozen=True)
class Day:
    day: date
    created: int
    decided: int
    compliance: Compliance


@dataclass(frozen=True)
class QueueCount:
    queue: str
    finished: int  # finished jobs rq still holds (results are kept for result_ttl_s)
    failed: int  # failed jobs rq still holds (kept for failure_ttl_s), until replayed


@dataclass(frozen=True)
class QueueFigures:
    queues: list[QueueCount]
    in_flight: int

    @property
    def finished(self) -> int:
        return sum(q.finished for q in self.queues)

    @property
    def failed(self) -> int:
        return sum(q.failed for q in self.queues)


@dataclass(frozen=True)
class Figures:
    now: datetime
    backlog: list[BacklogCell]
    oldest: list[Waiting]
    overdue: int
    days: list[Day]  # oldest first; the last is today
    data_quality_open: int
    queues: QueueFigures | None  # None: Redis could not be reached
    partners: list[AuthorityFigures] = field(default_factory=list)  # referrals sent in the last RECENT_DAYS days
    escalations: list[OpenEscalation] = field(default_factory=list)  # decisions overdue under the MOU, open now

    @property
    def today(self) -> Day:
        return self.days[-1]

    @property
    def week(self) -> Compliance:
        return Compliance(sum(d.compliance.decided for d in self.days), sum(d.compliance.on_time for d in self.days))

    @property
    def awaiting(self) -> int:
        return sum(c.count for c in self.backlog if c.status in ("awaiting_review", "second_approval"))

    def backlog_by(self, name: str) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for cell in self.backlog:
            counts[getattr(cell, name)] += cell.count
        return dict(counts)

    def backlog_table(self) -> list[tuple[str, str, dict[str, int], int]]:
        """(status, authority, count by risk, total) rows, in status order then authority."""
        rows: dict[tuple[str, str], Counter[str]] = {}
        for cell in self.backlog:
            rows.setdefault((cell.status, cell.authority), Counter())[cell.risk] += cell.count
        ordered = sorted(rows, key=lambda key: (BACKLOG.index(key[0]), key[1] == "none", key[1]))
        return [
            (status, authority, dict(rows[status, authority]), sum(rows[status, authority].values()))
            for status, authority in ordered
        ]

    # Chart rows: bars are (label, value, text beside the bar); columns are (label, [value per series]).
    @property
    def chart_status(self) -> list[tuple[str, int, str]]:
        counts = self.backlog_by("status")
        return [(status_name(s), counts[s], str(counts[s])) for s in BACKLOG if counts.get(s)]

    @property
    def chart_risk(self) -> list[tuple[str, int, str]]:
        counts = self.backlog_by("risk")
        return [
            (risk if risk != "none" else "no risk", counts[risk], str(counts[risk]))
            for risk in RISKS
            if counts.get(risk)
        ]

    @property
    def chart_days(self) -> list[tuple[str, list[int]]]:
        return [(d.day.strftime("%a %d/%m"), [d.created, d.decided]) for d in self.days]

    @property
    def chart_on_time(self) -> list[tuple[str, float, str]]:
        """Per day, the share decided on time. 0% (every decision late) is a figure and is drawn; only a week with
        no decided draft that had a deadline has nothing to show."""
        if not self.week.decided:
            return []
        return [
            (
                d.day.strftime("%a %d/%m"),
                round(100 * (d.compliance.share or 0)),
                f"{d.compliance.share_text} ({d.compliance.on_time} of {d.compliance.decided})"
                if d.compliance.decided
                else "none with a deadline",
            )
            for d in self.days
        ]

    @property
    def chart_jobs(self) -> list[tuple[str, list[int]]]:
        return [(q.queue, [q.finished, q.failed]) for q in self.queues.queues] if self.queues else []


def london_day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=LONDON)


def backlog(session: Session) -> list[BacklogCell]:
    """Drafts not yet done with, counted by status, authority and risk (awaiting a second approval apart)."""
    # Grouped by the columns as ix_drafts_queue orders them, so the index is read in order with nothing to sort;
    # the first approvers (a few reviewers) are folded into "awaiting a second approval" here.
    columns = (DraftRow.status, DraftRow.authority, DraftRow.risk, DraftRow.first_approver)
    found = session.execute(
        select(*columns, func.count())
        .where(DraftRow.status.in_(("awaiting_review", "returned", "approved")))
        .group_by(*columns)
    ).all()
    counts: Counter[tuple[str, str, str]] = Counter()
    for status, authority, risk, first_approver, count in found:
        shown = "second_approval" if status == "awaiting_review" and first_approver is not None else status
        counts[shown, authority or "none", risk or "none"] += count
    return [BacklogCell(*key, count) for key, count in sorted(counts.items())]


def oldest_waiting(session: Session, now: datetime, limit: int = OLDEST) -> list[Waiting]:
    """The drafts awaiting review that were created longest ago."""
    drafts = session.scalars(
        select(DraftRow)
        .where(DraftRow.status == "awaiting_review")
        .order_by(DraftRow.created_at, DraftRow.id)
        .limit(limit)
    )
    return [
        Waiting(
            d.id,
            d.workflow,
            d.source_ref,
            d.authority,
            d.risk,
            d.created_at,
            d.deadline,
            max(now - d.created_at, timedelta(0)),
            time_left(d.deadline, now)[1],
        )
        for d in drafts
    ]


def overdue(session: Session, now: datetime) -> int:
    """Drafts awaiting review whose deadline has passed."""
    return (
        session.scalar(select(func.count()).where(DraftRow.status == "awaiting_review", DraftRow.deadline < now)) or 0
    )


def _day_of(column: Any, starts: list[datetime]) -> Any:
    """The index in ``starts`` of the London day a time falls in (times before the first count as day 0)."""
    return case(*((column < start, index) for index, start in enumerate(starts[1:])), else_=len(starts) - 1)


def throughput(session: Session, now: datetime, days: int = DAYS) -> list[Day]:
    """Per London day, oldest first and ending today: drafts created, drafts decided, decided on time."""
    today = now.astimezone(LONDON).date()
    first = today - timedelta(days=days - 1)
    dates = [first + timedelta(days=n) for n in range(days)]
    starts = [london_day_start(day) for day in dates]
    created_day = _day_of(DraftRow.created_at, starts)
    created: dict[int, int] = dict(
        session.execute(
            select(created_day, func.count())
            .where(DraftRow.created_at >= starts[0], DraftRow.created_at <= now)
            .group_by(created_day)
        ).all()
    )
    # The first decision on a draft in the period is the one that counts.
    decided_at = (
        select(DecisionRow.draft_id, func.min(DecisionRow.at).label("at"))
        .where(DecisionRow.decision.in_(DECIDED), DecisionRow.at >= starts[0], DecisionRow.at <= now)
        .group_by(DecisionRow.draft_id)
        .subquery()
    )
    decided_day = _day_of(decided_at.c.at, starts)
    decided: dict[int, tuple[int, int, int]] = {
        day: (count, with_deadline, on_time or 0)
        for day, count, with_deadline, on_time in session.execute(
            select(
                decided_day,
                func.count(),
                func.count(DraftRow.deadline),
                func.sum(case((decided_at.c.at <= DraftRow.deadline, 1), else_=0)),
            )
            .join(DraftRow, DraftRow.id == decided_at.c.draft_id)
            .group_by(decided_day)
        ).all()
    }
    days_found = []
    for index, day in enumerate(dates):
        count, with_deadline, on_time = decided.get(index, (0, 0, 0))
        days_found.append(Day(day, created.get(index, 0), count, Compliance(with_deadline, on_time)))
    return days_found


def open_data_quality(session: Session) -> int:
    return session.scalar(select(func.count()).where(DataQualityItemRow.status == "open")) or 0


def queue_figures(jobs: Jobs) -> QueueFigures | None:
    """Finished and failed jobs per queue, and jobs not yet ended; None when Redis cannot be reached.

    The registries are counted in one round trip, as rq's own count would count them after its clean-up (every
    job but those whose time to be kept ran out, scored from 0 to now), without the clean-up's writes."""
    try:
        queues = jobs.queues()
        now = current_timestamp()
        with jobs.connection.pipeline(transaction=False) as pipe:
            for queue in queues:
                for registry in (FinishedJobRegistry(queue=queue), FailedJobRegistry(queue=queue)):
                    pipe.zcard(registry.key)
                    pipe.zcount(registry.key, 0, now)
            found = pipe.execute()
        kept = [held - expired for held, expired in zip(found[::2], found[1::2], strict=True)]
        counts = [QueueCount(queue.name, kept[2 * n], kept[2 * n + 1]) for n, queue in enumerate(queues)]
        return QueueFigures(counts, jobs.in_flight())
    except RedisError:
        return None


def compute(session: Session, now: datetime, jobs: Jobs | None = None) -> Figures:
    """Every figure of the dashboard as of ``now`` (queue figures only when ``jobs`` is given)."""
    return Figures(
        now=now,
        backlog=backlog(session),
        oldest=oldest_waiting(session, now),
        overdue=overdue(session, now),
        days=throughput(session, now),
        data_quality_open=open_data_quality(session),
        queues=queue_figures(jobs) if jobs is not None else None,
        partners=recent_figures(session, now),
        escalations=escalations_open(session),
    )


def authority_name(value: str | None) -> str:
    return "No authority" if not value or value == "none" else value.replace("_", " & ").title()


def headline(figures: Figures) -> dict[str, str]:
    """The numbers on the page's cards, by the name their element carries (data-figure)."""
    queues = figures.queues
    unavailable = "unavailable"
    return {
        "awaiting": str(figures.awaiting),
        "overdue": str(figures.overdue),
        "compliance_today": figures.today.compliance.share_text,
        "compliance_today_detail": figures.today.compliance.detail,
        "compliance_week": figures.week.share_text,
        "compliance_week_detail": figures.week.detail,
        "created_today": str(figures.today.created),
        "decided_today": str(figures.today.decided),
        "data_quality_open": str(figures.data_quality_open),
        "escalations_open": str(len(figures.escalations)),
        "jobs_in_flight": str(queues.in_flight) if queues else unavailable,
        "jobs_finished": str(queues.finished) if queues else unavailable,
        "jobs_failed": str(queues.failed) if queues else unavailable,
    }


def as_json(figures: Figures) -> dict[str, Any]:
    """The figures for /dashboard/data: ids, references, counts and times only (no names, no text)."""
    queues = figures.queues
    return {
        "as_of": figures.now.isoformat(),
        "as_of_text": figures.now.astimezone(LONDON).strftime("%d/%m/%Y %H:%M"),
        "figures": headline(figures),
        "backlog": [asdict(cell) for cell in figures.backlog],
        "oldest_waiting": [
            {
                "draft_id": w.draft_id,
                "type": TYPES.get(w.workflow, w.workflow),
                "source_ref": w.source_ref,
                "authority": w.authority,
                "risk": w.risk,
                "created_at": w.created_at.isoformat(),
                "deadline": w.deadline.isoformat() if w.deadline else None,
                "waiting_hours": round(w.waiting.total_seconds() / 3600, 1),
                "state": w.state,
            }
            for w in figures.oldest
        ],
        "overdue": figures.overdue,
        "compliance": {
            "today": {"decided": figures.today.compliance.decided, "on_time": figures.today.compliance.on_time},
            "last_7_days": {"decided": figures.week.decided, "on_time": figures.week.on_time},
        },
        "throughput": [
            {"day": d.day.isoformat(), "created": d.created, "decided": d.decided, "on_time": d.compliance.on_time}
            for d in figures.days
        ],
        "data_quality_open": figures.data_quality_open,
        "partner_decisions": [
            {**asdict(row), "median_hours": None if row.median_hours is None else round(row.median_hours, 1)}
            for row in figures.partners
        ],
        "escalations_open": [
            {**asdict(item), "decision_due_at": item.decision_due_at.isoformat()} for item in figures.escalations
        ],
        "queues": None
        if queues is None
        else {
            "in_flight": queues.in_flight,
            "per_queue": [{"queue": q.queue, "finished": q.finished, "failed": q.failed} for q in queues.queues],
        },
    }


def status_name(status: str) -> str:
    return STATUSES.get(status, status.replace("_", " "))
