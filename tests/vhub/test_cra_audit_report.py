"""The monthly child risk assessment audit from the scores stored: by area and by team, each criterion's share, and
for each area's contact the lowest scoring and the missing assessments; written as HTML (escaped, no child's name,
age or words) and CSV."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.factories import raw_incident
from vhub.cra_audit import cra_rubric, score
from vhub.models import validate_incident
from vhub.reports.cra_audit import build_cra_audit, write_cra_audit
from vhub.store import Database
from vhub.store.cra_scores import save_cra_scores, scores_of
from vhub.store.incidents import load_incident, save_incident
from vhub.store.tables import ChildRiskAssessmentRow, IncidentRow

pytestmark = pytest.mark.both_engines
AREAS = ["Herefordshire", "Shropshire", "Telford & Wrekin", "Worcestershire"]
NOW = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
ODD_TEAM = "<b>Team</b> & co"
VOICE = "I hid in my room."
COMPLETE = {
    "age_years": 9,
    "voice_of_child": VOICE,
    "risk_factors": ["Domestic abuse in the household"],
    "actions": [{"action": "Refer to children's services", "owner": "VHub"}],
    "area": "Worcestershire",
    "team": "Response Team B",
}


def stored(
    db: Database, number: int, *cras: dict[str, Any], occurred: str = "13/03/2026 22:40:00 GMT", **kw: Any
) -> int:
    """Incident OCC/26/000<number> with the factory's people (and a second child, N100004), its assessments
    ``cras`` (each the factory's one with those fields) scored as triage scores them; the children without an
    assessment are the missing ones."""
    raw = raw_incident(reference=f"OCC/26/{number:06d}", system_id=number, occurred_at=occurred, **kw)
    raw["people"].append({**raw["people"][2], "nominal_ref": "N100004", "forename": "Drew"})
    base = raw["child_risk_assessments"][0]
    raw["child_risk_assessments"] = [{**base, "completed_at": raw["last_modified"], **cra} for cra in cras]
    incident = validate_incident(raw)
    assessed = {cra.nominal_ref for cra in incident.child_risk_assessments}
    missing = [person.nominal_ref for person in incident.children if person.nominal_ref not in assessed]
    with db.session() as session:
        save_incident(session, incident, source_system="records_system")
        row_id = session.scalars(
            select(IncidentRow.id).where(
                IncidentRow.reference == incident.reference, IncidentRow.last_modified == incident.last_modified
            )
        ).one()
        save_cra_scores(session, row_id, incident, missing, "Worcestershire", cra_rubric())
    return row_id


@pytest.fixture
def month(db: Database) -> Database:
    """March 2026: 000101 two complete assessments (its older version lacked everything); 000102 one lacking the
    voice and actions by a Herefordshire team, the second child missing; 000103 two recorded before the audit's
    fields (no area: the incident's, Worcestershire), one with a team named in markup; 000104 in April."""
    done = {**COMPLETE, "completed_at": "14/03/2026 01:00:00 GMT"}
    stored(db, 101, {}, {"nominal_ref": "N100004"}, last_modified="13/03/2026 23:00:00 GMT")
    stored(db, 101, done, {**done, "nominal_ref": "N100004"}, last_modified="14/03/2026 09:15:00 GMT")
    stored(
        db,
        102,
        {**done, "voice_of_child": None, "actions": [], "area": "Herefordshire", "team": "Safer Neighbourhood Team"},
    )
    stored(db, 103, {"team": ODD_TEAM}, {"nominal_ref": "N100004", "completed_at": "20/03/2026 00:00:00 GMT"})
    stored(db, 104, done, occurred="01/04/2026 00:30:00 BST", last_modified="01/04/2026 09:00:00 BST")
    return db


def test_the_scores_are_stored_once_per_version_and_child(month: Database) -> None:
    """Each child of a version has one stored line: an assessed one with its score, a missing one with none."""
    with month.session(read_only=True) as session:
        ids = session.scalars(select(IncidentRow.id).where(IncidentRow.reference == "OCC/26/000102")).all()
        scores = scores_of(session, ids[0])
    assert {"N100003": (True, 55, ["voice_of_child", "actions_owned"]), "N100004": (False, None, [])} == {
        ref: (item.assessed, item.score, [lack["criterion"] for lack in item.lacking]) for ref, item in scores.items()
    }
    assert ("Herefordshire", "Safer Neighbourhood Team") == (scores["N100003"].area, scores["N100003"].team)


def test_an_assessment_stored_before_the_audits_fields_loads_as_lacking_them(db: Database) -> None:
    """A row from before migration 0014 (its new columns NULL) loads as an assessment with none of the audit's
    elements, and scores on its time alone."""
    stored(db, 105, COMPLETE)
    with db.session() as session:
        session.execute(
            update(ChildRiskAssessmentRow).values(
                age_years=None, voice_of_child=None, risk_factors=None, actions=None, area=None, team=None
            )
        )
    with db.session(read_only=True) as session:
        incident = load_incident(session, "OCC/26/000105")
    assert incident is not None
    (cra,) = incident.child_risk_assessments
    assert (None, None, [], [], None, None) == (
        cra.age_years,
        cra.voice_of_child,
        cra.risk_factors,
        cra.actions,
        cra.area,
        cra.team,
    )
    assert 15 == score(cra, incident, cra_rubric()).score


def test_the_months_figures_are_by_area_and_team_from_the_latest_versions(month: Database) -> None:
    """Only the month's incidents, their latest versions: per area assessed, mean, complete and missing; per team."""
    with month.session(read_only=True) as session:
        report = build_cra_audit(session, cra_rubric(), AREAS, "2026-03", NOW)
    areas = {row.area: (row.assessed, row.mean_text, row.complete, row.missing) for row in report.areas}
    assert {
        "Herefordshire": (1, "55", 0, 0),
        "Shropshire": (0, "—", 0, 0),
        "Telford & Wrekin": (0, "—", 0, 0),
        "Worcestershire": (4, "54", 2, 1),
    } == areas
    assert [
        ("Herefordshire", "Safer Neighbourhood Team", (55,)),
        ("Worcestershire", ODD_TEAM, (15,)),
        ("Worcestershire", "Response Team B", (100, 100)),
        ("Worcestershire", "Team not recorded", (0,)),
    ] == [(row.area, row.team, row.scores) for row in report.teams]
    criteria = {label: (met, of) for label, met, of in report.criteria}
    assert (2, 5) == criteria["Voice of the child"]
    assert (4, 5) == criteria["Completed in time"]


def test_each_areas_contact_gets_its_lowest_and_missing_assessments(month: Database) -> None:
    """Lowest first (never one lacking nothing), then every missing one; the area's contact from the config."""
    with month.session(read_only=True) as session:
        report = build_cra_audit(session, cra_rubric(), AREAS, "2026-03", NOW)
    by = {group.area: group for group in report.follow_up}
    worcestershire = by["Worcestershire"]
    assert "Worcestershire LPA CRA single point of contact" == worcestershire.contact
    assert [("OCC/26/000103", "N100004", 0), ("OCC/26/000103", "N100003", 15)] == [
        (item.reference, item.nominal_ref, item.score) for item in worcestershire.lowest
    ]
    assert [("OCC/26/000102", "N100004")] == [(item.reference, item.nominal_ref) for item in worcestershire.missing]
    assert "Voice of the child; Risk factors identified" in worcestershire.lowest[1].lacking
    assert [("OCC/26/000102", "N100003", 55)] == [
        (item.reference, item.nominal_ref, item.score) for item in by["Herefordshire"].lowest
    ]


def test_the_report_is_written_as_html_with_charts_and_csv(month: Database, tmp_path: Path) -> None:
    """cra-audit-2026-03.html (escaped, charts, no child's name or words) and the areas', teams' and follow-up CSVs."""
    with month.session(read_only=True) as session:
        report = build_cra_audit(session, cra_rubric(), AREAS, "2026-03", NOW)
    html, areas, teams, follow = write_cra_audit(report, tmp_path)
    page = html.read_text(encoding="utf-8")
    assert ["cra-audit-2026-03.html", "cra-audit-2026-03-areas.csv", "cra-audit-2026-03-teams.csv"] == [
        path.name for path in (html, areas, teams)
    ]
    assert "March 2026" in page and page.count("<svg") >= 4
    assert "&lt;b&gt;Team&lt;/b&gt; &amp; co" in page and ODD_TEAM not in page
    for personal in ("Casey", "Drew", "Testperson", VOICE, "20/09/2016"):
        assert personal not in page and personal not in follow.read_text(encoding="utf-8")
    rows = list(csv.DictReader(areas.read_text(encoding="utf-8").splitlines()))
    assert {"area": "Worcestershire", "assessed": "4", "mean_score": "53.8", "complete": "2", "missing": "1"} == next(
        row for row in rows if row["area"] == "Worcestershire"
    )
    follow_rows = list(csv.DictReader(follow.read_text(encoding="utf-8").splitlines()))
    assert [("Worcestershire", "missing", "OCC/26/000102", "N100004", "")] == [
        (row["area"], row["kind"], row["reference"], row["nominal_ref"], row["score"])
        for row in follow_rows
        if row["kind"] == "missing"
    ]
