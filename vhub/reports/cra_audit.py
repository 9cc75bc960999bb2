"""The monthly child risk assessment audit (HTML with charts, and CSV): scores by local policing area and by team,
how often each criterion of config/cra_audit.toml is met, and for each area's single point of contact the
lowest-scoring assessments and the missing ones.

It reads the scores triage stored (vhub/store/cra_scores.py) for the latest version of each incident that occurred
in the month (UK time); it never scores again. Incident references and nominal numbers only: no child's name, age
or words.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub import csv_export
from vhub.cra_audit import CRITERIA, Rubric
from vhub.drafting.environment import environment
from vhub.reports.mou import month_bounds
from vhub.store.tables import CraScoreRow, IncidentRow

NO_AREA = "Outside West Mercia"
NO_TEAM = "Team not recorded"


@dataclass(frozen=True)
class Scores:
    """The assessments of one area, or one team of an area."""

    area: str
    team: str | None
    scores: tuple[int, ...]
    missing: int = 0

    @property
    def assessed(self) -> int:
        return len(self.scores)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def mean_text(self) -> str:
        return "—" if self.mean is None else f"{self.mean:.0f}"

    @property
    def complete(self) -> int:
        return sum(1 for value in self.scores if value == 100)


@dataclass(frozen=True)
class FollowUp:
    """An assessment to send back to its area: among its lowest scoring, or missing."""

    reference: str
    nominal_ref: str
    score: int | None  # None: no assessment
    lacking: str  # the criteria it lacks, by label; "" for a missing one
    team: str | None


@dataclass(frozen=True)
class AreaFollowUp:
    area: str
    contact: str  # the role that follows it up
    assessed: int  # assessments scored in the area
    lowest: list[FollowUp] = field(default_factory=list)
    missing: list[FollowUp] = field(default_factory=list)


@dataclass(frozen=True)
class CraAuditReport:
    month: date
    generated_at: datetime
    completed_within_hours: int
    areas: list[Scores]
    teams: list[Scores]
    criteria: list[tuple[str, int, int]]  # label, assessments meeting it, assessments scored
    follow_up: list[AreaFollowUp]

    @property
    def totals(self) -> Scores:
        return Scores(
            "All areas",
            None,
            tuple(value for row in self.areas for value in row.scores),
            sum(row.missing for row in self.areas),
        )

    def chart_areas(self) -> list[tuple[str, float, str]]:
        return [(row.area, row.mean or 0.0, row.mean_text) for row in self.areas]

    def chart_teams(self) -> list[tuple[str, float, str]]:
        return [(f"{row.area}: {row.team}", row.mean or 0.0, row.mean_text) for row in self.teams]

    def chart_criteria(self) -> list[tuple[str, float, str]]:
        return [(label, met / of if of else 0.0, f"{met / of:.0%}" if of else "—") for label, met, of in self.criteria]

    def chart_missing(self) -> list[tuple[str, float, str]]:
        return [(row.area, float(row.missing), str(row.missing)) for row in self.areas]


def build_cra_audit(session: Session, rubric: Rubric, areas: list[str], month: str, now: datetime) -> CraAuditReport:
    """The audit of ``month`` (``YYYY-MM``) from the stored scores; every one of ``areas`` is listed, with nothing
    when it had nothing. ValueError with a plain message for a month not written as YYYY-MM."""
    first, start, end = month_bounds(month)
    rows = session.scalars(
        select(CraScoreRow)
        .join(IncidentRow, IncidentRow.id == CraScoreRow.incident_id)
        .where(IncidentRow.is_latest.is_(True), CraScoreRow.occurred_at >= start, CraScoreRow.occurred_at < end)
        .order_by(CraScoreRow.reference, CraScoreRow.nominal_ref)
    ).all()
    by_area: dict[str, list[CraScoreRow]] = {area: [] for area in areas}
    for row in rows:
        by_area.setdefault(row.area or NO_AREA, []).append(row)
    teams: dict[tuple[str, str], list[int]] = defaultdict(list)
    lacks: dict[str, int] = defaultdict(int)
    assessed = 0
    area_rows, follow_up = [], []
    for area in sorted(by_area):
        scored = [row for row in by_area[area] if row.assessed and row.score is not None]
        missing = [row for row in by_area[area] if not row.assessed]
        area_rows.append(Scores(area, None, tuple(row.score for row in scored if row.score is not None), len(missing)))
        for row in scored:
            assert row.score is not None
            teams[(area, row.team or NO_TEAM)].append(row.score)
            for lack in row.lacking:
                lacks[str(lack.get("criterion"))] += 1
        assessed += len(scored)
        lowest = sorted((row for row in scored if row.score is not None and row.score < 100), key=_weakest)
        follow_up.append(
            AreaFollowUp(
                area,
                rubric.contact(None if area == NO_AREA else area),
                len(scored),
                [_follow_up(row) for row in lowest[: rubric.lowest_per_area]],
                [_follow_up(row) for row in missing],
            )
        )
    return CraAuditReport(
        month=first,
        generated_at=now,
        completed_within_hours=rubric.completed_within_hours,
        areas=area_rows,
        teams=[Scores(area, team, tuple(values)) for (area, team), values in sorted(teams.items())],
        criteria=[
            (rubric.criteria[key].label, assessed - lacks[key], assessed)
            for key in CRITERIA
            if rubric.criteria[key].weight
        ],
        follow_up=follow_up,
    )


def _weakest(row: CraScoreRow) -> tuple[int, str, str]:
    return (row.score if row.score is not None else 0, row.reference, row.nominal_ref)


def _follow_up(row: CraScoreRow) -> FollowUp:
    lacking = "; ".join(str(lack.get("label", lack.get("criterion", ""))) for lack in row.lacking)
    return FollowUp(row.reference, row.nominal_ref, row.score, lacking, row.team)


def write_cra_audit(report: CraAuditReport, folder: Path) -> list[Path]:
    """cra-audit-YYYY-MM.html, and CSVs: one row per area, per team, and per assessment to follow up."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"cra-audit-{report.month:%Y-%m}"
    html = folder / f"{stem}.html"
    html.write_text(environment().get_template("reports/cra_audit.html.j2").render(report=report), encoding="utf-8")
    areas = folder / f"{stem}-areas.csv"
    csv_export.write(
        areas,
        ["area", "assessed", "mean_score", "complete", "missing"],
        ([row.area, row.assessed, _rounded(row.mean), row.complete, row.missing] for row in report.areas),
    )
    teams = folder / f"{stem}-teams.csv"
    csv_export.write(
        teams,
        ["area", "team", "assessed", "mean_score", "complete"],
        ([row.area, row.team, row.assessed, _rounded(row.mean), row.complete] for row in report.teams),
    )
    follow = folder / f"{stem}-follow-up.csv"
    csv_export.write(
        follow,
        ["area", "contact", "kind", "reference", "nominal_ref", "score", "lacking", "team"],
        (
            [group.area, group.contact, kind, item.reference, item.nominal_ref, item.score, item.lacking, item.team]
            for group in report.follow_up
            for kind, items in (("lowest", group.lowest), ("missing", group.missing))
            for item in items
        ),
    )
    return [html, areas, teams, follow]


def _rounded(value: float | None) -> float | str:
    return "" if value is None else round(value, 1)
