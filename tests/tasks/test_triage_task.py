"""The triage job: once per version, problems to a person, and again after a person's correction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select

from tasks.draft import draft_action
from tasks.triage import triage_incident
from tests.factories import raw_incident
from vhub import context, redaction
from vhub.models import validate_incident
from vhub.queues import SERIALIZER
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.incidents import save_incident
from vhub.store.runs import open_data_quality_items
from vhub.store.tables import AuditEventRow, CraScoreRow, DataQualityItemRow, TriageResultRow
from vhub.triage import load_config, triage
from vhub.triage.history import History
from vhub.triage.model import Workflow


@pytest.fixture
def stored(settings: Settings, db: Database, redis_url: str, redis_client: Redis) -> Iterator[str]:
    """A domestic abuse incident whose child (age 9) has no school recorded, stored and the context set."""
    context.configure(settings.model_copy(update={"redis_url": redis_url}))
    raw = raw_incident()
    raw["people"][2]["school"] = None
    incident = validate_incident(raw)
    with db.session() as session:
        save_incident(session, incident, source_system="records_system")
    yield incident.last_modified.isoformat()
    context.current().db.dispose()


def draft_jobs(redis_client: Redis) -> list[list]:
    return [
        job.args
        for name in ("high", "default", "low")
        for job in Queue(name, connection=redis_client, serializer=SERIALIZER).jobs
    ]


def test_no_school_becomes_a_data_quality_item_and_no_notice(stored: str, redis_client: Redis) -> None:
    """Triage keeps the problem for a person and drafts only what it could decide."""
    triage_incident("OCC/26/000101", stored)
    ctx = context.current()
    with ctx.db.session() as session:
        items = open_data_quality_items(session)
        assert [
            ["No school is recorded for child N100003 (age 9): find the school, record it, then triage again."]
        ] == [item.reasons for item in items]
    assert ["referral"] == sorted(args[2] for args in draft_jobs(redis_client))


def test_triaging_the_same_version_again_adds_nothing(stored: str, redis_client: Redis) -> None:
    """A replayed triage job stores no second result and no second data-quality item."""
    triage_incident("OCC/26/000101", stored)
    triage_incident("OCC/26/000101", stored)
    with context.current().db.session() as session:
        assert 1 == len(session.scalars(select(TriageResultRow)).all())
        assert 1 == len(session.scalars(select(DataQualityItemRow)).all())


def test_triage_stores_each_childs_assessment_score_once(stored: str, redis_client: Redis) -> None:
    """The child's assessment (level, time and summary only) is scored as lacking four elements, stored once however
    often the version is triaged, and scored again (not added) when triage decides again."""
    triage_incident("OCC/26/000101", stored)
    triage_incident("OCC/26/000101", stored)
    triage_incident("OCC/26/000101", stored, True)
    with context.current().db.session() as session:
        rows = session.scalars(select(CraScoreRow)).all()
        assert [("N100003", True, 15, 4, "Worcestershire", None)] == [
            (row.nominal_ref, row.assessed, row.score, len(row.lacking), row.area, row.team) for row in rows
        ]


def test_a_correction_makes_triage_decide_again(stored: str, redis_client: Redis) -> None:
    """Once a person supplies the school, triage runs again with it and the notice is drafted."""
    triage_incident("OCC/26/000101", stored)
    with context.current().db.session() as session:
        item = session.scalars(select(DataQualityItemRow)).one()
        item.status = "resolved"
        item.resolution = {"corrections": {"people[2].school": "Brookfield Primary School"}}
    for name in ("high", "default", "low"):
        Queue(name, connection=redis_client, serializer=SERIALIZER).empty()
    triage_incident("OCC/26/000101", stored, True)
    assert ["encompass", "referral"] == sorted(args[2] for args in draft_jobs(redis_client))
    with context.current().db.session() as session:
        assert 1 == len(session.scalars(select(TriageResultRow)).all())
        assert 1 == len(session.scalars(select(AuditEventRow).where(AuditEventRow.action == "triage.replaced")).all())


def test_triage_and_draft_mask_the_people_they_load(stored: str, redis_client: Redis) -> None:
    """Once triage or drafting has loaded an incident, its people's names are masked in any later log line."""
    person = raw_incident()["people"][0]
    name = f"{person['forename']} {person['surname']}"
    triage_incident("OCC/26/000101", stored)
    after_triage = redaction.redact_text(name)
    redaction.forget()
    draft_action(*draft_jobs(redis_client)[0])
    assert ("[name]", "[name]") == (after_triage, redaction.redact_text(name))


def test_the_item_is_due_when_the_notice_it_holds_up_would_be(stored: str, redis_client: Redis) -> None:
    """A child with no school holds up their Operation Encompass notice: the item takes the deadline triage gives
    that notice once the school is known, and says what it holds up."""
    triage_incident("OCC/26/000101", stored)
    with context.current().db.session() as session:
        item = session.scalars(select(DataQualityItemRow)).one()
        deadline, blocks = item.deadline, item.blocks
    with_school = validate_incident(raw_incident())  # the same incident, its child's school recorded
    result = triage(with_school, History(), load_config(), now=with_school.last_modified)
    (notice,) = [action for action in result.actions if action.workflow is Workflow.encompass]
    assert (notice.deadline, "the Operation Encompass notice for N100003") == (deadline, blocks)
