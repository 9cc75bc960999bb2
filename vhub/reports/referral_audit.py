"""The referral quality audit's figures for the monthly MOU report: per front door and risk, the referrals sampled and
audited and the mean score per criterion; how far the force's and the partner's auditors agree on the referrals both
scored (joint audits); and the mean scores of the last six months' samples (the trend).

A month's figures are those of the sample of the referrals sent in that month, as scored by the time the report is
written. Means are over every auditor's scores, the force's and the partners'. References and authorities only.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vhub import csv_export
from vhub.referral_audit import RISKS, AuditConfig
from vhub.store.tables import AuditSampleReferralRow, AuditSampleRow, ReferralAuditRow

TREND_MONTHS = 6


@dataclass(frozen=True)
class AuditGroup:
    """One front door and risk of a month's sample."""

    authority: str
    front_door: str
    risk: str
    sampled: int
    audited: int  # scored by at least one auditor
    joint: int  # scored by the force and by the partner
    means: dict[str, float | None]  # criterion key -> mean score


@dataclass(frozen=True)
class Agreement:
    """The force's and the partner's scores on the referrals of one front door both scored."""

    authority: str
    front_door: str
    joint: int
    same: dict[str, int]  # criterion key -> referrals on which the two gave the same score
    difference: dict[str, float | None]  # criterion key -> mean of partner minus force

    def share(self, key: str) -> str:
        return f"{self.same[key] / self.joint:.0%}" if self.joint else "—"


@dataclass(frozen=True)
class TrendMonth:
    month: str
    drawn: bool
    audited: int
    means: dict[str, float | None]


@dataclass(frozen=True)
class AuditSection:
    month: str
    drawn: bool
    population: int
    criteria: list[tuple[str, str]]  # (key, label), in the form's order
    scale: tuple[int, int]  # lowest and highest score
    groups: list[AuditGroup]
    agreement: list[Agreement]
    trend: list[TrendMonth]

    def chart(self, key: str) -> list[tuple[str, float, str]]:
        """The trend of one criterion's mean score (for a bar chart): one bar per month."""
        return [
            (row.month, row.means[key] or 0.0, "not drawn" if not row.drawn else mean_text(row.means[key]))
            for row in self.trend
        ]


def mean_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _mean(values: Iterable[float]) -> float | None:
    found = list(values)
    return statistics.fmean(found) if found else None


def _months_back(month: str, count: int) -> list[str]:
    """``count`` months up to and including ``month``, oldest first."""
    year, number = int(month[:4]), int(month[5:7])
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{number:02d}")
        year, number = (year, number - 1) if number > 1 else (year - 1, 12)
    return found[::-1]


def _scored(
    session: Session, months: list[str]
) -> tuple[dict[str, AuditSampleRow], list[tuple[str, AuditSampleReferralRow, list[ReferralAuditRow]]]]:
    drawn = session.scalars(select(AuditSampleRow).where(AuditSampleRow.month.in_(months)))
    samples = {row.month: row for row in drawn}
    items = session.execute(
        select(AuditSampleRow.month, AuditSampleReferralRow)
        .join(AuditSampleRow, AuditSampleRow.id == AuditSampleReferralRow.sample_id)
        .where(AuditSampleRow.month.in_(months))
        .order_by(AuditSampleReferralRow.id)
    ).all()
    scores: dict[int, list[ReferralAuditRow]] = {item.id: [] for _, item in items}
    if scores:
        for row in session.scalars(select(ReferralAuditRow).where(ReferralAuditRow.sampled_id.in_(list(scores)))):
            scores[row.sampled_id].append(row)
    return samples, [(month, item, scores[item.id]) for month, item in items]


def build_audit_section(session: Session, config: AuditConfig, front_doors: dict[str, str], month: str) -> AuditSection:
    months = _months_back(month, TREND_MONTHS)
    samples, scored = _scored(session, months)
    keys = list(config.keys)

    def means(rows: Iterable[ReferralAuditRow]) -> dict[str, float | None]:
        rows = list(rows)
        return {key: _mean(row.scores[key] for row in rows if key in row.scores) for key in keys}

    this_month = [(item, given) for at, item, given in scored if at == month]
    groups = []
    for authority in sorted(front_doors):
        for risk in RISKS:
            here = [
                (item, given)
                for item, given in this_month
                if item.authority == authority and (item.risk if item.risk in RISKS else "green") == risk
            ]
            groups.append(
                AuditGroup(
                    authority=authority,
                    front_door=front_doors[authority],
                    risk=risk,
                    sampled=len(here),
                    audited=sum(bool(given) for _, given in here),
                    joint=sum(_joint(given) for _, given in here),
                    means=means(row for _, given in here for row in given),
                )
            )
    agreement = []
    for authority in sorted(front_doors):
        pairs = [
            (_side_means(given, "force", keys), _side_means(given, "partner", keys))
            for item, given in this_month
            if item.authority == authority and _joint(given)
        ]
        agreement.append(
            Agreement(
                authority=authority,
                front_door=front_doors[authority],
                joint=len(pairs),
                same={key: sum(round(force[key]) == round(partner[key]) for force, partner in pairs) for key in keys},
                difference={key: _mean(partner[key] - force[key] for force, partner in pairs) for key in keys},
            )
        )
    trend = [
        TrendMonth(
            month=at,
            drawn=at in samples,
            audited=sum(bool(given) for when, _, given in scored if when == at),
            means=means(row for when, _, given in scored if when == at for row in given),
        )
        for at in months
    ]
    sample = samples.get(month)
    return AuditSection(
        month=month,
        drawn=sample is not None,
        population=sample.population if sample is not None else 0,
        criteria=[(criterion.key, criterion.label) for criterion in config.criteria],
        scale=(config.scale.lowest, config.scale.highest),
        groups=groups,
        agreement=agreement,
        trend=trend,
    )


def _joint(given: list[ReferralAuditRow]) -> bool:
    return {row.side for row in given} >= {"force", "partner"}


def _side_means(given: list[ReferralAuditRow], side: str, keys: list[str]) -> dict[str, float]:
    """One side's score of each criterion on one referral (the mean, should two of its auditors have scored it)."""
    rows = [row for row in given if row.side == side]
    return {key: statistics.fmean(row.scores[key] for row in rows) for key in keys}


def _cell(value: float | None) -> float | str:
    return "" if value is None else round(value, 2)


def write_audit_csvs(section: AuditSection, folder: Path, stem: str) -> list[Path]:
    """<stem>-referral-audit.csv (per front door and risk), -referral-audit-agreement.csv (joint audits per front
    door) and -referral-audit-trend.csv (per month)."""
    keys = [key for key, _ in section.criteria]
    tables: dict[str, tuple[list[str], list[list[object]]]] = {
        "referral-audit": (
            ["authority", "front_door", "risk", "sampled", "audited", "joint", *(f"mean_{key}" for key in keys)],
            [
                [row.authority, row.front_door, row.risk, row.sampled, row.audited, row.joint]
                + [_cell(row.means[key]) for key in keys]
                for row in section.groups
            ],
        ),
        "referral-audit-agreement": (
            ["authority", "front_door", "joint"]
            + [f"same_{key}" for key in keys]
            + [f"partner_minus_force_{key}" for key in keys],
            [
                [row.authority, row.front_door, row.joint]
                + [row.same[key] for key in keys]
                + [_cell(row.difference[key]) for key in keys]
                for row in section.agreement
            ],
        ),
        "referral-audit-trend": (
            ["month", "drawn", "audited", *(f"mean_{key}" for key in keys)],
            [
                [row.month, "yes" if row.drawn else "no", row.audited] + [_cell(row.means[key]) for key in keys]
                for row in section.trend
            ],
        ),
    }
    paths = []
    for name, (header, rows) in tables.items():
        path = folder / f"{stem}-{name}.csv"
        csv_export.write(path, header, rows)
        paths.append(path)
    return paths
