"""The front doors' decisions on the referrals sent, read on a schedule, and the MOU's escalation of those overdue.

``check_decisions`` (scheduled) queues one ``read_decisions`` job per authority with referrals still open or
recently decided, counted against that portal's session cap. Each reads the decision of every open referral from
the portal's own list of referrals sent and stores the new ones with their times (a decision already stored is not
stored again; storing one closes the referral's escalation); a referral decided within config/mou.toml's
``reread_decided_days`` is read again, and a decision the front door has changed since is stored as its revision.
Then, for the referrals still undecided, it opens each step of config/mou.toml's escalation route that has fallen
due, once, and alerts it once to the channel the MOU names: references, the authority and roles, never a child's
name. A portal that cannot be read (down, or its pages changed) fails the job, but only after what is overdue has
been escalated. A channel that does not take an alert fails the job (rq retries it); the steps already alerted are
not alerted again.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from vhub import logs
from vhub.alerts import Alert, send, webhook_url
from vhub.clock import moment, uk_time
from vhub.context import current
from vhub.errors import ApplicationError, VhubError
from vhub.mou import MouConfig, mou_config
from vhub.portals import portal_for
from vhub.store.partner_decisions import (
    SentReferral,
    mark_alerted,
    open_escalation,
    open_referrals,
    record_decision,
    referrals_to_read,
    unalerted,
)
from vhub.store.tables import DecisionEscalationRow
from vhub.triage import load_config

log = logs.get_logger(__name__)

RUNBOOK = "runbooks/overdue-decision.md"


def check_decisions(at: str | None = None) -> dict[str, Any]:
    """Queue the reading of every authority's open referrals, for the moment ``at`` (now if not given)."""
    ctx = current()
    when = moment(at)
    logs.bind(step="decision_check")
    mou = mou_config()  # a mistake in config/mou.toml fails here, once, naming the line to fix
    with ctx.db.session(read_only=True) as session:
        referrals = referrals_to_read(session, _reread_since(mou, when))
    authorities = sorted({referral.authority for referral in referrals})
    for authority in authorities:
        portal = portal_for("referral", {"authority": authority})
        ctx.jobs.enqueue(
            "read_decisions",
            read_decisions,
            authority,
            when.isoformat(),
            rate_limit_key=portal,
            description=f"read {authority}'s decisions",
        )
    still_open = sum(referral.latest is None for referral in referrals)
    watched = len(referrals) - still_open
    log.info("decision reads queued", open=still_open, watched=watched, authorities=len(authorities))
    return {"open": still_open, "watched": watched, "authorities": authorities}


def _reread_since(mou: MouConfig, when: datetime) -> datetime:
    """Decisions made since this moment are read again (a front door may still revise them)."""
    return when - timedelta(days=mou.reread_decided_days)


def read_decisions(authority: str, at: str | None = None) -> dict[str, int]:
    """Read and store the decisions on ``authority``'s open referrals, then escalate those overdue at ``at``."""
    ctx = current()
    when = moment(at)
    mou = mou_config()
    logs.bind(step="read_decisions", system=f"referral_{authority}")
    with ctx.db.session(read_only=True) as session:
        referrals = referrals_to_read(session, _reread_since(mou, when), authority)
    still_open = sum(referral.latest is None for referral in referrals)
    counts: Counter[str] = Counter(open=still_open, watched=len(referrals) - still_open, decided=0, revised=0)
    counts["not_listed"] = 0
    problem: VhubError | None = None
    try:
        _read(authority, referrals, when, counts)
    except VhubError as error:  # the portal could not be read: what is overdue is escalated all the same
        problem = error
    counts["escalated"] = _escalate(mou, authority, when)
    counts["alerted"] = _alert(mou, authority)
    log.info("decisions read", authority=authority, read_in_full=problem is None, **counts)
    if problem is not None:
        raise problem
    return dict(counts)


def _read(authority: str, referrals: list[SentReferral], when: datetime, counts: Counter[str]) -> None:
    """Read each referral's decision from the portal and store the new ones and the revised, counting into
    ``counts``."""
    if not referrals:
        return
    from bots.referral_portal import bot_for  # the browser's modules, only in the worker that reads

    ctx = current()
    bot = bot_for(ctx.settings, authority)
    for referral in referrals:
        seen = bot.decision(referral.partner_reference)
        if not seen.found:
            counts["not_listed"] += 1
            continue
        if seen.outcome is None or seen.decided_at is None:
            continue
        if referral.latest == (seen.outcome, seen.decided_at):
            continue  # as stored: nothing to write
        with ctx.db.session() as session:
            stored = record_decision(
                session, referral, outcome=seen.outcome, wording=seen.wording, decided_at=seen.decided_at, read_at=when
            )
        if stored is not None:
            counts["decided" if referral.latest is None else "revised"] += 1


def _escalate(mou: MouConfig, authority: str, when: datetime) -> int:
    """Open each escalation step fallen due for the authority's referrals still undecided; how many were opened."""
    ctx = current()
    opened = 0
    with ctx.db.session() as session:
        for referral in open_referrals(session, authority):
            due = mou.due(authority, referral.risk, referral.sent_at)
            for index, step in enumerate(mou.escalation):
                if when <= mou.step_due(due, index):
                    break
                row = open_escalation(
                    session,
                    referral,
                    step=index + 1,
                    police_role=step.police_role,
                    partner_role=step.partner_role,
                    decision_due_at=due,
                    at=when,
                )
                opened += row is not None
    return opened


def _alert(mou: MouConfig, authority: str) -> int:
    """Alert each open step not yet alerted, once; ApplicationError (retried) if the channel refused one."""
    ctx = current()
    front_door = load_config().authorities[authority].childrens_services
    with ctx.db.session(read_only=True) as session:
        pending = [_card(mou, front_door, row, incident) for row, incident in unalerted(session, authority)]
    configured = bool(webhook_url(ctx.settings, mou.channel).strip())
    alerted = refused = 0
    for escalation_id, alert in pending:
        delivered = send(ctx.settings, ctx.db, alert, subject=f"decision-escalation:{escalation_id}")
        if delivered or not configured:
            with ctx.db.session() as session:
                mark_alerted(session, escalation_id, moment(None))
            alerted += 1
        else:
            refused += 1
    if refused:
        raise ApplicationError(
            f"The {mou.channel} channel did not take {refused} overdue-decision alert(s) for {front_door}; the "
            "escalations are recorded and the job will try the alerts again.",
            code="alert_not_delivered",
        )
    return alerted


def _card(mou: MouConfig, front_door: str, row: DecisionEscalationRow, incident: str) -> tuple[int, Alert]:
    """The alert of one escalation step: the front door, references and roles only."""
    due = uk_time(row.decision_due_at)
    alert = Alert(
        title=f"Children's services decision overdue: {front_door} referral {row.partner_reference}",
        facts={
            "Front door": front_door,
            "Their reference": row.partner_reference,
            "Incident": incident,
            "Draft": f"#{row.draft_id}",
            "Risk": row.risk or "not graded",
            "Decision due": due,
            "Escalation": f"step {row.step} of {len(mou.escalation)}",
            "For": row.police_role,
            "Ask": row.partner_role,
        },
        lines=(
            f"The MOU gave the front door until {due} to decide. {row.police_role}: ask the {row.partner_role} of "
            f"{front_door} for the decision, and follow {RUNBOOK}.",
        ),
        channel=mou.channel,
    )
    return row.id, alert
