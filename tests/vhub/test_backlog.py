"""The backlog report counts children by age on the day, as triage does, not by the role a record gives."""

from __future__ import annotations

import copy

from tests.factories import raw_incident
from vhub.models import validate_incident
from vhub.reports import build_backlog
from vhub.store import Database
from vhub.store.incidents import save_incident
from vhub.store.tables import utcnow
from vhub.triage import load_config


def store_three_incidents(db: Database) -> None:
    """Three incidents in three weeks naming the same people: a 15-year-old recorded as the victim, and a
    "child" born in 2006 (19 on the day)."""
    for number, day in enumerate(("02/03/2026", "09/03/2026", "16/03/2026"), start=1):
        raw = raw_incident(
            reference=f"OCC/26/00010{number}",
            system_id=100 + number,
            occurred_at=f"{day} 22:40:00 GMT",
            last_modified=f"{day} 23:59:00 GMT",
        )
        people = copy.deepcopy(raw["people"])
        people[0] |= {"date_of_birth": "02/05/2010", "role": "victim"}  # 15: a child victim
        people[2] |= {"date_of_birth": "20/09/2006", "role": "child", "school": None}  # 19: not a child
        raw["people"] = people
        raw["child_risk_assessments"] = []
        with db.session() as session:
            save_incident(session, validate_incident(raw), source_system="records_system")


def test_repeat_children_are_children_by_age_whatever_their_role(db: Database) -> None:
    """The 15-year-old victim is a repeat child; the 19-year-old recorded as a child is not."""
    store_three_incidents(db)
    with db.session() as session:
        report = build_backlog(session, load_config(), utcnow())
    assert ["N100001"] == [child.nominal_refs for child in report.repeat_children]
