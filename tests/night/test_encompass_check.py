"""The before-school Encompass check: approved notices due today are sent once, unapproved ones escalated once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from redis import Redis
from rq.job import Job
from sqlalchemy import select

from tasks.encompass import check_encompass
from tests.night.conftest import ServedSink
from vhub import context
from vhub.errors import ApplicationError
from vhub.queues import SERIALIZER
from vhub.store import Database
from vhub.store.tables import AuditEventRow, RunRow, SubmissionRow

AT = "2026-12-01T07:30:00+00:00"  # 07:30 GMT, a Tuesday
TODAY_0830 = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
TODAY_0900 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TOMORROW = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)


def submit_jobs(ctx: context.AppContext, redis_client: Redis) -> list[list[object]]:
    ids = [job_id for queue in ctx.jobs.queues() for job_id in queue.job_ids]
    jobs = [Job.fetch(job_id, connection=redis_client, serializer=SERIALIZER) for job_id in ids]
    return [list(job.args) for job in jobs if job.func_name == "tasks.submit.submit_draft"]


def test_run_twice_it_sends_once_and_escalates_once(
    ctx: context.AppContext, db: Database, make_draft: Callable[..., int], sink: ServedSink, redis_client: Redis
) -> None:
    """Approved and due today: queued once; sent or sending: left alone; not approved: one card, by school and
    deadline, with no personal data; due tomorrow: not today's business. A second check adds nothing."""
    approved = make_draft(TODAY_0830, status="approved")
    waiting = make_draft(TODAY_0900, school="Oakfield Primary School")
    returned = make_draft(TODAY_0830, school="St Mary's CE Primary School", status="returned")
    make_draft(TODAY_0830, status="sent")
    sending = make_draft(TODAY_0830, status="sending")
    make_draft(TOMORROW, school="Tomorrow Academy")
    with db.session() as session:
        session.add(SubmissionRow(draft_id=sending, portal="school_portal", key="k-sending", status="sending"))

    first = check_encompass(AT)
    second = check_encompass(AT)

    assert [[approved]] == submit_jobs(ctx, redis_client)
    assert (6 - 1, 1, 1, 1, 2, 2) == (
        first["due_today"],
        first["sent"],
        first["sending"],
        first["queued_now"],
        first["not_approved"],
        first["escalated_now"],
    )
    assert (0, 0, 2) == (second["queued_now"], second["escalated_now"], second["sending"])
    cards = sink.received("duty")
    assert 1 == len(cards)
    text = json.dumps(cards[0]["card"])
    assert f"Oakfield Primary School: due 01/12/2026 09:00 GMT (draft #{waiting}, incident OCC/26/000002)" in text
    assert f"draft #{returned}" in text and "St Mary's CE Primary School" in text
    assert "Tomorrow Academy" not in text
    for personal in ("Ellie", "Marsh", "2016", "Orchard"):
        assert personal not in text
    with db.session() as session:
        checks = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "encompass.checked")).all()
        assert [[approved], []] == [event.after["queued_drafts"] for event in checks]
        assert [sorted([waiting, returned]), []] == [sorted(event.after["escalated_drafts"]) for event in checks]
        runs = session.scalars(select(RunRow).where(RunRow.kind == "encompass_check")).all()
        assert [("complete", 5), ("complete", 5)] == [(run.status, run.found) for run in runs]


def test_a_channel_that_refuses_gets_the_escalation_on_the_retry(
    ctx: context.AppContext, make_draft: Callable[..., int], sink: ServedSink
) -> None:
    """If the duty channel does not take the card, the check fails (to be retried) and the retry escalates again."""
    make_draft(TODAY_0900, school="Oakfield Primary School")
    broken = ctx.settings.model_copy(update={"duty_webhook_url": f"{sink.url}/nowhere"})
    context.use(context.AppContext(broken))
    with pytest.raises(ApplicationError, match="did not take the Operation Encompass escalation"):
        check_encompass(AT)
    context.use(ctx)
    assert 1 == check_encompass(AT)["escalated_now"]
    assert 1 == len(sink.received("duty"))
