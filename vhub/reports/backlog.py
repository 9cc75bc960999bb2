"""The backlog report: the force's own analytical products, from the store, as HTML with charts and CSV.

Repeat children, crime types ranked by their share of high-risk outcomes, hidden high-risk cases,
missing child risk assessments by policing area, and the oldest drafts waiting for review. People are
shown by nominal reference, never by name, so the report can travel; its CSVs are written by
vhub/csv_export.py, so no cell runs as a formula in a spreadsheet.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub import csv_export
from vhub.drafting.environment import environment
from vhub.models import LONDON, age_on
from vhub.store.tables import DraftRow, IncidentPersonRow, IncidentRow, TriageResultRow
from vhub.triage.config import TriageConfig
from vhub.triage.history import Sighting, link_key
from vhub.triage.model import TriageResult

RISK_ORDER = ("red", "amber", "green", "blue")


@dataclass(frozen=True)
class RepeatChild:
    nominal_refs: str
    authority: str
    most_in_12_months: int
    references: str


@dataclass(frozen=True)
class CrimeType:
    incident_type: str
    incidents: int
    red: int
    amber: int
    share_red: float


@dataclass(frozen=True)
class HiddenHighRisk:
    reference: str
    occurred: str
    dash_yes: int
    officer_grading: str
    policing_area: str


@dataclass(frozen=True)
class MissingAssessment:
    policing_area: str
    reference: str
    nominal_ref: str
    occurred: str


@dataclass(frozen=True)
class Waiting:
    draft_id: int
    workflow: str
    reference: str
    recipient: str
    risk: str
    waiting_days: float
    deadline: str
    state: str


@dataclass
class BacklogReport:
    generated_at: datetime
    incidents: int
    by_risk: dict[str, int]
    awaiting_review: int
    overdue: int
    repeat_children: list[RepeatChild] = field(default_factory=list)
    crime_types: list[CrimeType] = field(default_factory=list)
    hidden_high_risk: list[HiddenHighRisk] = field(default_factory=list)
    missing_assessments: list[MissingAssessment] = field(default_factory=list)
    oldest_waiting: list[Waiting] = field(default_factory=list)

    # Chart rows: (label, value, text shown beside the bar).
    @property
    def chart_risk(self) -> list[tuple[str, float, str]]:
        return [(level, self.by_risk.get(level, 0), str(self.by_risk.get(level, 0))) for level in RISK_ORDER]

    @property
    def chart_crime_types(self) -> list[tuple[str, float, str]]:
        return [
            (row.incident_type, row.share_red, f"{row.share_red:.0%} of {row.incidents}") for row in self.crime_types
        ]

    @property
    def chart_missing_by_area(self) -> list[tuple[str, float, str]]:
        counts = Counter(item.policing_area for item in self.missing_assessments)
        return [(area, count, str(count)) for area, count in sorted(counts.items())]

    @property
    def chart_oldest_waiting(self) -> list[tuple[str, float, str]]:
        return [
            (f"#{w.draft_id} {w.workflow} {w.reference}", w.waiting_days, f"{w.waiting_days} days")
            for w in self.oldest_waiting[:10]
        ]


def _day(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y")


def _most_within(moments: list[datetime], window: timedelta) -> int:
    moments = sorted(moments)
    best, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _was_child(link: IncidentPersonRow, incident: IncidentRow, child_under: int) -> bool:
    """Under ``child_under`` on the incident's (UK) day, by date of birth or recorded age, as triage decides."""
    age = age_on(link.date_of_birth, link.age_years, incident.occurred_at.astimezone(LONDON).date())
    return age is not None and age < child_under


def _repeat_children(session: Session, config: TriageConfig) -> list[RepeatChild]:
    rows = session.execute(
        select(IncidentPersonRow, IncidentRow)
        .join(IncidentRow, IncidentPersonRow.incident_id == IncidentRow.id)
        .where(IncidentRow.is_latest.is_(True))
    ).all()
    seen: dict[str, list[tuple[Sighting, str, str | None]]] = defaultdict(list)
    for link, incident in rows:
        if not _was_child(link, incident, config.policy.ages.child_under):
            continue  # a child victim or witness counts; a "child" come of age does not
        postcode = link.address_postcode or incident.location_postcode
        authority = config.authority_for_postcode(postcode)
        sighting = Sighting(incident.reference, incident.occurred_at, incident.domestic_abuse, link.role)
        seen[link_key(link, incident)].append(
            (sighting, link.person.nominal_ref, authority.name if authority else None)
        )
    window = timedelta(days=config.policy.repeat.window_days)
    found = []
    for entries in seen.values():
        most = _most_within([s.occurred_at for s, _, _ in entries], window)
        if most >= config.policy.repeat.incidents:
            found.append(
                RepeatChild(
                    nominal_refs=", ".join(sorted({nominal for _, nominal, _ in entries})),
                    authority=next((a for _, _, a in entries if a), "outside West Mercia"),
                    most_in_12_months=most,
                    references=", ".join(s.reference for s, _, _ in sorted(entries, key=lambda e: e[0].occurred_at)),
                )
            )
    return sorted(found, key=lambda child: (-child.most_in_12_months, child.nominal_refs))


def build_backlog(session: Session, config: TriageConfig, now: datetime, *, oldest: int = 25) -> BacklogReport:
    triaged = session.execute(
        select(TriageResultRow, IncidentRow)
        .join(IncidentRow, TriageResultRow.incident_id == IncidentRow.id)
        .where(IncidentRow.is_latest.is_(True))
    ).all()
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    hidden, missing = [], []
    for row, incident in triaged:
        result = TriageResult.model_validate(row.result)
        by_type[incident.incident_type][result.risk.value] += 1
        area = result.policing_area or "Outside West Mercia"
        if "hidden_high_risk" in result.flags and incident.dash is not None:
            hidden.append(
                HiddenHighRisk(
                    incident.reference,
                    _day(incident.occurred_at),
                    incident.dash.yes_count,
                    incident.dash.officer_grading,
                    area,
                )
            )
        missing += [
            MissingAssessment(area, incident.reference, ref, _day(incident.occurred_at)) for ref in result.missing_cras
        ]
    crime_types = [
        CrimeType(kind, sum(counts.values()), counts["red"], counts["amber"], counts["red"] / sum(counts.values()))
        for kind, counts in by_type.items()
    ]
    waiting_rows = session.scalars(
        select(DraftRow).where(DraftRow.status == "awaiting_review").order_by(DraftRow.created_at, DraftRow.id)
    ).all()
    waiting = [
        Waiting(
            draft_id=draft.id,
            workflow=draft.workflow,
            reference=draft.source_ref,
            recipient=draft.recipient_name,
            risk=draft.risk or "-",
            waiting_days=round((now - draft.created_at).total_seconds() / 86400, 1),
            deadline=draft.deadline.strftime("%d/%m/%Y %H:%M") if draft.deadline else "-",
            state="overdue" if draft.deadline and draft.deadline < now else "on time",
        )
        for draft in waiting_rows
    ]
    return BacklogReport(
        generated_at=now,
        incidents=len(triaged),
        by_risk=dict(Counter(row.risk for row, _ in triaged)),
        awaiting_review=len(waiting),
        overdue=sum(1 for item in waiting if item.state == "overdue"),
        repeat_children=_repeat_children(session, config),
        crime_types=sorted(crime_types, key=lambda c: (-c.share_red, -c.incidents, c.incident_type)),
        hidden_high_risk=sorted(hidden, key=lambda h: (-h.dash_yes, h.reference)),
        missing_assessments=sorted(missing, key=lambda m: (m.policing_area, m.reference, m.nominal_ref)),
        oldest_waiting=sorted(waiting, key=lambda w: (-w.waiting_days, w.draft_id))[:oldest],
    )


_CSV_SECTIONS = {
    "repeat-children": "repeat_children",
    "crime-types": "crime_types",
    "hidden-high-risk": "hidden_high_risk",
    "missing-child-risk-assessments": "missing_assessments",
    "oldest-waiting": "oldest_waiting",
}


def write_backlog(report: BacklogReport, folder: Path) -> list[Path]:
    """backlog.html (charts and tables) and one CSV per section; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    html = folder / "backlog.html"
    html.write_text(environment().get_template("reports/backlog.html.j2").render(report=report), encoding="utf-8")
    written = [html]
    for name, attribute in _CSV_SECTIONS.items():
        rows: list[Any] = getattr(report, attribute)
        path = folder / f"backlog-{name}.csv"
        fields = list(asdict(rows[0])) if rows else ["none"]
        csv_export.write(path, fields, (asdict(row).values() for row in rows))
        written.append(path)
    return written
