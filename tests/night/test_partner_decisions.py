"""The children's services decisions over simulated days: the bot reads each decision from a real simulated front
door in Chromium and stores it once; an overdue decision is escalated once per step of the MOU's route, each step
alerted once to the MOU's channel without a child's name, and closed (audited) when the decision arrives."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

import pytest
from playwright.sync_api import Browser
from redis import Redis
from rq.job import Job
from sqlalchemy import select

from fixtures.referral_portals.decisions import Decision, decision_for
from fixtures.settings import SimulatorSettings
from tasks.decisions import check_decisions, read_decisions
from tests.bots.conftest import admin, front_doors
from tests.night.conftest import ServedSink
from vhub import browser as vhub_browser
from vhub import context, logs
from vhub.browser import BrowserSession
from vhub.errors import ApplicationError, SelectorDrift
from vhub.mou import OUTCOMES
from vhub.queues import SERIALIZER
from vhub.reports.mou import recent_figures
from vhub.runtime import simulated_webhooks
from vhub.settings import Settings
from vhub.simulated import simulated_system
from vhub.store import Database
from vhub.store.partner_decisions import partner_outcome
from vhub.store.tables import AuditEventRow, DecisionEscalationRow, PartnerDecisionRow, SubmissionRow

SEED = SimulatorSettings.model_fields["fixtures_seed"].default
RECEIVED = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)  # Monday 09/03/2026 10:00 GMT, on the portal's stepped clock
TUESDAY_EVENING = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)  # red: due Tuesday 17:00; step 2 Wednesday 17:00
WEDNESDAY_EVENING = datetime(2026, 3, 11, 18, 0, tzinfo=UTC)
THURSDAY_DUE = datetime(2026, 3, 12, 17, 0, tzinfo=UTC)  # amber (three working days): due Thursday 17:00
FRIDAY_EVENING = datetime(2026, 3, 13, 18, 0, tzinfo=UTC)  # amber's step 2 was due Friday 17:00
OUTCOME_KEYS = {label: key for key, label in OUTCOMES.items()}
CHILD = "Ellie Marsh"  # in every draft's text and payload: never in a card


@pytest.fixture(scope="module")
def herefordshire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Herefordshire MASH's simulated portal, its own process."""
    with front_doors(tmp_path_factory.mktemp("mash"), ("herefordshire",)) as urls:
        yield urls["herefordshire"]


@pytest.fixture
def decisions_ctx(
    settings: Settings,
    db: Database,
    redis_url: str,
    redis_client: Redis,
    sink: ServedSink,
    herefordshire: str,
) -> Iterator[context.AppContext]:
    """Tasks' context: this store, the real Redis, the alert channels at the sink, Herefordshire's portal."""
    portal = simulated_system("referral_herefordshire", herefordshire)
    update = {"redis_url": redis_url, "portals": {"referral_herefordshire": portal}, **simulated_webhooks(sink.url)}
    configured = context.configure(settings.model_copy(update=update))
    yield configured
    vhub_browser.close_all()
    admin(herefordshire, "POST", "clock", {"now": None})
    configured.db.dispose()
    logs.new_context()


@pytest.fixture
def portal_session(decisions_ctx: context.AppContext, browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's session for the portal, as a worker keeps one, on pytest-playwright's Chromium (one Playwright per
    test process)."""
    session = BrowserSession(decisions_ctx.settings, "referral_herefordshire", browser=browser)
    monkeypatch.setitem(vhub_browser._sessions, "referral_herefordshire", session)


def plant(url: str, wanted: Callable[[Decision | None], bool]) -> tuple[str, Decision | None]:
    """A referral received at RECEIVED whose decision (from the seed) is as ``wanted``: its reference, the decision."""
    admin(url, "POST", "clock", {"now": RECEIVED.isoformat()})
    for number in range(300):
        planted = admin(url, "POST", "referrals", {"your_reference": f"VHUB-{number}-plant", "threshold_level": None})
        decision = decision_for(SEED, "HMASH", planted["reference"], RECEIVED, None)
        if wanted(decision):
            return planted["reference"], decision
    raise AssertionError("no planted referral had the decision wanted")


def unrevised(decision: Decision | None) -> TypeGuard[Decision]:
    """Decided, and never changed afterwards."""
    return decision is not None and decision.revised is None


def sent(db: Database, make_draft: Callable[..., int], reference: str, risk: str) -> int:
    """A referral draft sent to Herefordshire MASH at RECEIVED, which gave it ``reference``."""
    draft_id = make_draft(
        RECEIVED + timedelta(hours=4),
        workflow="referral",
        status="sent",
        risk=risk,
        dedupe_key=f"referral|{reference}",
        recipient={"kind": "authority", "name": "Herefordshire MASH", "authority": "herefordshire"},
        recipient_name="Herefordshire MASH",
        title="Referral to Herefordshire MASH",
    )
    with db.session() as session:
        session.add(
            SubmissionRow(
                draft_id=draft_id,
                portal="referral_herefordshire",
                key=f"VHUB-{draft_id}-test",
                status="sent",
                partner_reference=reference,
                sent_at=RECEIVED,
            )
        )
    return draft_id


def at(url: str, moment: datetime) -> dict[str, int]:
    """Step the portal's clock to ``moment`` and run the read for that moment, as the scheduled firing would."""
    admin(url, "POST", "clock", {"now": moment.isoformat()})
    return read_decisions("herefordshire", moment.isoformat())


def actions(db: Database, action: str) -> list[AuditEventRow]:
    with db.session() as session:
        return list(session.scalars(select(AuditEventRow).where(AuditEventRow.action == action)).all())


@pytest.mark.browser
@pytest.mark.usefixtures("portal_session")
def test_decisions_are_read_once_and_overdue_ones_escalated_once_then_closed(
    decisions_ctx: context.AppContext,
    db: Database,
    make_draft: Callable[..., int],
    sink: ServedSink,
    herefordshire: str,
) -> None:
    """Over simulated days: a prompt decision is stored once however often it is read; a red referral decided late
    is escalated at step 1 once overdue and at step 2 a working day later, each alerted once, and both steps close
    when its decision arrives; an amber one never decided is escalated when its own time runs out."""
    prompt_ref, prompt = plant(herefordshire, lambda d: unrevised(d) and d.decided_at < TUESDAY_EVENING)
    late_ref, late = plant(herefordshire, lambda d: unrevised(d) and WEDNESDAY_EVENING < d.decided_at < THURSDAY_DUE)
    never_ref, _ = plant(herefordshire, lambda d: d is None)
    assert prompt is not None and late is not None
    prompt_id, late_id = sent(db, make_draft, prompt_ref, "red"), sent(db, make_draft, late_ref, "red")
    never_id = sent(db, make_draft, never_ref, "amber")

    first = at(herefordshire, TUESDAY_EVENING)
    again = at(herefordshire, TUESDAY_EVENING)
    second = at(herefordshire, WEDNESDAY_EVENING)
    arrived = late.decided_at + timedelta(minutes=1)
    third = at(herefordshire, arrived)
    fourth = at(herefordshire, FRIDAY_EVENING)

    never_steps = 2
    assert (1, 1, 1) == (first["decided"], first["escalated"], first["alerted"])
    assert (0, 0, 0) == (again["decided"], again["escalated"], again["alerted"])
    assert (0, 1, 1) == (second["decided"], second["escalated"], second["alerted"])
    assert (1, 0, 0) == (third["decided"], third["escalated"], third["alerted"])
    assert (0, never_steps, never_steps) == (fourth["decided"], fourth["escalated"], fourth["alerted"])

    with db.session() as session:
        stored = session.execute(
            select(PartnerDecisionRow.draft_id, PartnerDecisionRow.outcome, PartnerDecisionRow.decided_at).order_by(
                PartnerDecisionRow.id
            )
        ).all()
        steps = session.scalars(select(DecisionEscalationRow).order_by(DecisionEscalationRow.id)).all()
        late_decision = session.scalar(select(PartnerDecisionRow.id).where(PartnerDecisionRow.draft_id == late_id))
    assert [(prompt_id, prompt.outcome, prompt.decided_at), (late_id, late.outcome, late.decided_at)] == [
        tuple(row) for row in stored
    ]
    late_steps = [row for row in steps if row.draft_id == late_id]
    assert [(1, "VHub duty sergeant"), (2, "VHub detective inspector")] == [
        (row.step, row.police_role) for row in late_steps
    ]
    assert all(row.closed_at == arrived and row.closed_by == late_decision for row in late_steps)
    assert [never_id] * never_steps == [row.draft_id for row in steps if row.draft_id != late_id]
    assert all(row.closed_at is None for row in steps if row.draft_id == never_id)

    assert 2 == len(actions(db, "partner_decision.recorded"))
    assert 2 + never_steps == len(actions(db, "decision_escalation.opened"))
    closed = actions(db, "decision_escalation.closed")
    assert [(str(late_id), 1), (str(late_id), 2)] == sorted((event.entity_id, event.after["step"]) for event in closed)

    cards = [post["card"]["attachments"][0]["content"] for post in sink.received("duty")]
    assert 2 + never_steps == len(cards)
    facts = [{fact["title"]: fact["value"] for fact in card["body"][1]["facts"]} for card in cards]
    assert [
        (late_ref, "step 1 of 3", "VHub duty sergeant"),
        (late_ref, "step 2 of 3", "VHub detective inspector"),
        (never_ref, "step 1 of 3", "VHub duty sergeant"),
        (never_ref, "step 2 of 3", "VHub detective inspector"),
    ] == [(fact["Their reference"], fact["Escalation"], fact["For"]) for fact in facts]
    assert ("amber", "12/03/2026 17:00 GMT") == (facts[2]["Risk"], facts[2]["Decision due"])
    assert "Herefordshire MASH" in cards[0]["body"][0]["text"]
    assert CHILD not in json.dumps(cards) and CHILD not in json.dumps([event.after for event in closed])
    assert [] == sink.received("admins")


@pytest.mark.browser
@pytest.mark.usefixtures("portal_session")
def test_a_decision_the_front_door_revises_is_stored_once_as_its_revision(
    decisions_ctx: context.AppContext, db: Database, make_draft: Callable[..., int], herefordshire: str
) -> None:
    """A front door changes its decision days later: the read after the change stores the new decision beside the
    first (audited as revised, before and after), a read after that stores nothing, and the MOU's figures keep the
    first decision's time but count the referral under its latest outcome, as revised."""
    reference, decision = plant(herefordshire, lambda d: d is not None and d.revised is not None)
    assert decision is not None and decision.revised is not None
    draft_id = sent(db, make_draft, reference, "amber")
    revised = decision.revised

    reads = [at(herefordshire, moment + timedelta(minutes=1)) for moment in (decision.decided_at, revised.decided_at)]
    reads.append(at(herefordshire, revised.decided_at + timedelta(hours=4)))

    assert [(1, 0), (0, 1), (0, 0)] == [(read["decided"], read["revised"]) for read in reads]
    with db.session() as session:
        outcome = partner_outcome(session, draft_id)
        (figures,) = [
            row
            for row in recent_figures(session, revised.decided_at + timedelta(days=1))
            if row.authority == "herefordshire"
        ]
    assert [(decision.outcome, decision.decided_at), (revised.outcome, revised.decided_at)] == [
        (OUTCOME_KEYS[label], decided_at) for label, _words, decided_at in outcome.decisions
    ]
    (event,) = actions(db, "partner_decision.revised")
    assert (str(draft_id), decision.outcome, revised.outcome) == (
        event.entity_id,
        event.before["outcome"],
        event.after["outcome"],
    )
    assert (1, 1, 1) == (figures.decided, figures.revised, figures.outcomes[revised.outcome])
    assert figures.median_hours == pytest.approx((decision.decided_at - RECEIVED).total_seconds() / 3600)


def test_the_scheduled_check_queues_one_read_per_authority_with_open_referrals(
    decisions_ctx: context.AppContext,
    db: Database,
    make_draft: Callable[..., int],
    redis_client: Redis,
) -> None:
    """Two referrals open to one front door and two decided at another: one read each, for the moment the check fired
    for, counted against that front door's session cap; a decided referral is read again while its front door may
    still revise it (config/mou.toml's 14 days), and no longer after."""
    for number, authority in enumerate(("herefordshire", "herefordshire", "shropshire", "shropshire")):
        draft_id = make_draft(
            RECEIVED,
            workflow="referral",
            status="sent",
            authority=authority,
            dedupe_key=f"referral|{number}",
            recipient={"kind": "authority", "name": authority, "authority": authority},
        )
        with db.session() as session:
            session.add(
                SubmissionRow(
                    draft_id=draft_id,
                    portal=f"referral_{authority}",
                    key=f"VHUB-{draft_id}-k",
                    status="sent",
                    partner_reference=f"REF-{number}",
                    sent_at=RECEIVED,
                )
            )
            if number >= 2:  # Shropshire's both decided: nothing of theirs to read
                session.add(
                    PartnerDecisionRow(
                        draft_id=draft_id,
                        authority=authority,
                        partner_reference=f"REF-{number}",
                        outcome="early_help",
                        wording="CLOSED - EH",
                        decided_at=RECEIVED + timedelta(hours=2),
                    )
                )

    result = check_decisions(TUESDAY_EVENING.isoformat())
    fortnight_on = RECEIVED + timedelta(hours=2, days=14, minutes=1)
    later = check_decisions(fortnight_on.isoformat())  # its read of Herefordshire waits for the first's session

    ids = [job_id for queue in decisions_ctx.jobs.queues() for job_id in queue.job_ids]
    jobs: list[Any] = [Job.fetch(job_id, connection=redis_client, serializer=SERIALIZER) for job_id in ids]
    assert [
        {"open": 2, "watched": 2, "authorities": ["herefordshire", "shropshire"]},
        {"open": 2, "watched": 0, "authorities": ["herefordshire"]},
    ] == [result, later]
    assert [
        ("tasks.decisions.read_decisions", [authority, TUESDAY_EVENING.isoformat()], "scan")
        for authority in ("herefordshire", "shropshire")
    ] == [(job.func_name, list(job.args), job.origin) for job in jobs]


@pytest.mark.browser
@pytest.mark.usefixtures("portal_session")
def test_a_refused_card_fails_the_read_and_its_retry_alerts_once(
    decisions_ctx: context.AppContext,
    db: Database,
    make_draft: Callable[..., int],
    sink: ServedSink,
    herefordshire: str,
) -> None:
    """The duty channel refusing the card: the escalation is recorded, the job fails (to be retried), and the retry
    sends that card alone, opening nothing again."""
    reference, _ = plant(herefordshire, lambda d: d is None)
    sent(db, make_draft, reference, "red")
    broken = decisions_ctx.settings.model_copy(update={"duty_webhook_url": f"{sink.url}/nowhere"})
    context.use(context.AppContext(broken))
    with pytest.raises(ApplicationError, match="did not take 1 overdue-decision alert"):
        at(herefordshire, TUESDAY_EVENING)
    with db.session() as session:
        recorded = session.execute(select(DecisionEscalationRow.step, DecisionEscalationRow.alerted_at)).all()
    context.use(decisions_ctx)
    retried = at(herefordshire, TUESDAY_EVENING)
    assert [(1, None)] == [tuple(row) for row in recorded]
    assert (0, 1, 1) == (retried["escalated"], retried["alerted"], len(sink.received("duty")))


@pytest.mark.browser
@pytest.mark.usefixtures("portal_session")
def test_a_portal_that_cannot_be_read_still_has_its_overdue_decisions_escalated(
    decisions_ctx: context.AppContext,
    db: Database,
    make_draft: Callable[..., int],
    sink: ServedSink,
    herefordshire: str,
) -> None:
    """The front door's pages changed (drift): the read fails, naming the locator, but the decision overdue is
    escalated and alerted all the same."""
    reference, _ = plant(herefordshire, lambda d: d is None)
    sent(db, make_draft, reference, "red")
    admin(herefordshire, "POST", "faults", {"layout": "variant"})
    try:
        with pytest.raises(SelectorDrift):
            at(herefordshire, TUESDAY_EVENING)
    finally:
        admin(herefordshire, "POST", "faults", {"layout": "standard"})
    cards = sink.received("duty")
    with db.session() as session:
        steps = session.execute(select(DecisionEscalationRow.step, DecisionEscalationRow.partner_reference)).all()
    assert [(1, reference)] == [tuple(row) for row in steps]
    assert 1 == len(cards)
