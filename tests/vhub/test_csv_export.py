"""CSV exports: no cell a spreadsheet would run as a formula, in the backlog report's CSVs or anywhere else."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vhub import csv_export
from vhub.csv_export import cell
from vhub.models import uk_timestamp
from vhub.reports.backlog import (
    BacklogReport,
    CrimeType,
    HiddenHighRisk,
    MissingAssessment,
    RepeatChild,
    Waiting,
    write_backlog,
)

FORMULAS = [
    '=HYPERLINK("http://example.invalid","Open")',
    "+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_that_starts_like_a_formula_is_written_as_text(text: str) -> None:
    """Each formula start (=, +, -, @, tab, carriage return) gets a leading apostrophe; the rest is kept."""
    assert [["'" + text]] == list(csv.reader([csv_export.line([text])]))


def test_other_values_are_written_as_they_are() -> None:
    """Plain text, numbers (negative ones too) and a text with a formula sign inside are unchanged; None is empty."""
    assert "OCC/26/000101,-3,0.25,a=b,\r\n" == csv_export.line(["OCC/26/000101", -3, 0.25, "a=b", None])


def first_row(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1]


def test_the_backlog_csvs_carry_no_formula(tmp_path: Path) -> None:
    """Values from the records system and the drafts that start like formulas are written as text in every CSV."""
    report = BacklogReport(
        generated_at=datetime(2026, 3, 14, 9, tzinfo=UTC),
        incidents=1,
        by_risk={"red": 1},
        awaiting_review=1,
        overdue=0,
        repeat_children=[RepeatChild(FORMULAS[4], FORMULAS[5], 3, "OCC/26/000101")],
        crime_types=[CrimeType(FORMULAS[0], 1, 1, 0, 1.0)],
        hidden_high_risk=[HiddenHighRisk("OCC/26/000101", "13/03/2026", 14, "standard", FORMULAS[3])],
        missing_assessments=[MissingAssessment(FORMULAS[1], "OCC/26/000101", "N100003", "13/03/2026")],
        oldest_waiting=[Waiting(7, "encompass", "OCC/26/000101", FORMULAS[2], "red", 1.5, "-", "on time")],
    )
    write_backlog(report, tmp_path)
    cells = {path.name: first_row(path) for path in sorted(tmp_path.glob("*.csv"))}
    assert {
        "backlog-crime-types.csv": ["'" + FORMULAS[0], "1", "1", "0", "1.0"],
        "backlog-hidden-high-risk.csv": ["OCC/26/000101", "13/03/2026", "14", "standard", "'" + FORMULAS[3]],
        "backlog-missing-child-risk-assessments.csv": ["'" + FORMULAS[1], "OCC/26/000101", "N100003", "13/03/2026"],
        "backlog-oldest-waiting.csv": [
            "7",
            "encompass",
            "OCC/26/000101",
            "'" + FORMULAS[2],
            "red",
            "1.5",
            "-",
            "on time",
        ],
        "backlog-repeat-children.csv": ["'" + FORMULAS[4], "'" + FORMULAS[5], "3", "OCC/26/000101"],
    } == cells


def test_a_date_and_time_is_written_in_uk_time_with_its_zone() -> None:
    """A moment is written as UK local time with GMT or BST, to the second, never with microseconds."""
    winter = datetime(2026, 12, 1, 9, 5, 7, 123456, tzinfo=UTC)
    summer = datetime(2026, 6, 1, 8, 5, 7, tzinfo=UTC)
    assert ["01/12/2026 09:05:07 GMT", "01/06/2026 09:05:07 BST"] == [cell(winter), cell(summer)]
    assert ["01/12/2026 09:05 GMT", "01/06/2026 09:05 BST"] == [uk_timestamp(winter), uk_timestamp(summer)]
