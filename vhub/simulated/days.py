"""`vhub demo --auto-approve --days N`: after the referrals are sent, the days that follow on a stepped clock, so
the front doors' decisions arrive (or do not) and the MOU's escalations open and close.

Every referral portal's clock is stepped to each firing of the decision check at 09:10, 13:10 and 17:10 UK time
on the next N days, and the firing is made through the scheduler's claim twice (as two schedulers would); the
workers finish the reads before the clock moves on. The summary counts what the store and the simulated Teams
webhook hold afterwards, and checks each decision was stored once and each escalation step alerted once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
from sqlalchemy import func, select

from tasks.referral_audit import draw_month
from vhub import context
from vhub.clock import uk_day, uk_time
from vhub.cra_audit import cra_rubric, policing_areas
from vhub.models import LONDON
from vhub.mou import mou_config
from vhub.reports.cra_audit import build_cra_audit, write_cra_audit
from vhub.reports.mou import build_mou_report, front_doors, write_mou_report
from vhub.scheduler import fire, next_firing
from vhub.simulated.night import received_cards, wait_quiet
from vhub.store.partner_decisions import open_referrals, sent_referrals
from vhub.store.tables import DecisionEscalationRow, PartnerDecisionRow, utcnow

CHECK_TIMES = "10 9,13,17 * * *"
"""The decision check's firings the stepped days go through (the schedule itself fires every hour)."""
TITLE = "Children's services decision overdue"
DEMO_ACTOR = "vhub demo (the month drawn before its end)"


def run_days(
    ctx: context.AppContext, urls: dict[str, str], sink_url: str, days: int, reports: Path, out: TextIO
) -> dict[str, Any]:
    """Step the referral portals' clocks through ``days`` days of decision checks; the summary of what happened."""
    schedule = next(item for item in ctx.jobs.policy.schedules if item.job == "decision_check")
    portals = [url for name, url in urls.items() if name.startswith("referral_")]
    start = datetime.now(LONDON)
    end = start + timedelta(days=days)
    with ctx.db.session(read_only=True) as session:
        sent = len(session.execute(sent_referrals()).all())
    out.write(f"Then {days} simulated days for the {sent} referrals sent: the decision check at 09:10, 13:10, 17:10.\n")
    checks = refused = 0
    unfinished: list[str] = []
    minute = next_firing(CHECK_TIMES, LONDON, start)
    while minute <= end:
        for url in portals:
            httpx.post(f"{url}/_admin/clock", json={"now": minute.isoformat()}, timeout=10).raise_for_status()
        if fire(ctx.jobs, schedule, minute) is None:
            unfinished.append(f"decision check at {uk_time(minute)} was claimed before the days began")
        else:
            checks += 1
        refused += fire(ctx.jobs, schedule, minute) is None
        if not wait_quiet(ctx, 600):
            unfinished.append(f"decision check at {uk_time(minute)}: work still running after the time limit")
            break
        with ctx.db.session(read_only=True) as session:
            still_open = len(open_referrals(session))
        out.write(f"  {uk_time(minute)}  decision check: {still_open} referral(s) still without a decision\n")
        out.flush()
        minute = next_firing(CHECK_TIMES, LONDON, minute)
    for url in portals:
        httpx.post(f"{url}/_admin/clock", json={"now": None}, timeout=10).raise_for_status()
    return _summary(ctx, sink_url, sent, checks, refused, unfinished, start, reports)


def _summary(
    ctx: context.AppContext,
    sink_url: str,
    sent: int,
    checks: int,
    refused: int,
    unfinished: list[str],
    start: datetime,
    reports: Path,
) -> dict[str, Any]:
    with ctx.db.session(read_only=True) as session:
        decisions = [
            tuple(row)
            for row in session.execute(
                select(PartnerDecisionRow.draft_id, PartnerDecisionRow.outcome, PartnerDecisionRow.decided_at)
            )
        ]
        decided = session.scalar(select(func.count(func.distinct(PartnerDecisionRow.draft_id)))) or 0
        steps = session.execute(
            select(DecisionEscalationRow.draft_id, DecisionEscalationRow.step, DecisionEscalationRow.closed_at)
        ).all()
        month = f"{uk_day(start):%Y-%m}"
    # The month's audits, as the partnership board and each area's single point of contact would read them at its
    # end: the referral audit's sample drawn from what was sent (before the month is over: this store is the demo's
    # own), for the demo's auditors to score, and the child risk assessment audit of the incidents read.
    sample = draw_month(ctx, month, actor=DEMO_ACTOR, now=utcnow(), before_the_end=True)
    with ctx.db.session(read_only=True) as session:
        report = build_mou_report(session, mou_config(), front_doors(), month, start)
        cra = [  # the night's incidents happened in the two days before the demo: in this month, or the last too
            build_cra_audit(session, cra_rubric(), policing_areas(), audited, utcnow())
            for audited in sorted({f"{uk_day(start - timedelta(days=2)):%Y-%m}", month})
        ]
    decided_ids = _decided(ctx)
    cards = [
        card for card in received_cards(sink_url, mou_config().channel) if card["body"][0]["text"].startswith(TITLE)
    ]
    checks_held = {
        "each firing enqueued once": not unfinished and refused == checks,
        "each decision stored once (a revision beside it)": len(set(decisions)) == len(decisions),
        "each escalation step alerted once": len(cards) == len(steps),
        "every escalation of a decided referral closed": all(
            closed is not None for draft_id, _, closed in steps if draft_id in decided_ids
        ),
    }
    return {
        "referrals_sent": sent,
        "decision_checks": checks,
        "decided": decided,
        "undecided": sent - decided,
        "revised": len(decisions) - decided,
        "escalation_steps_opened": len(steps),
        "escalation_steps_closed": sum(closed is not None for _, _, closed in steps),
        "escalation_cards": len(cards),
        "mou_report": str(write_mou_report(report, reports)[0]),
        "audit_sample": {"population": sample["population"], "sampled": sample["sampled"]},
        "cra_audit_reports": [str(write_cra_audit(each, reports)[0]) for each in cra],
        "unfinished": unfinished,
        "checks": checks_held,
        "ok": all(checks_held.values()),
    }


def _decided(ctx: context.AppContext) -> set[int]:
    with ctx.db.session(read_only=True) as session:
        return set(session.scalars(select(PartnerDecisionRow.draft_id)).all())


def render_days(summary: dict[str, Any]) -> str:
    lines = [
        "",
        "The days after",
        f"  Referrals sent:             {summary['referrals_sent']}",
        f"  Decision checks:            {summary['decision_checks']} (a second try at each was refused)",
        f"  Decided / still undecided:  {summary['decided']} / {summary['undecided']} "
        f"({summary['revised']} decision(s) revised by the front door)",
        f"  Escalation steps opened:    {summary['escalation_steps_opened']}, closed by a decision: "
        f"{summary['escalation_steps_closed']}",
        f"  Cards to the MOU's channel: {summary['escalation_cards']}",
        f"  The month's MOU report:     {summary['mou_report']}",
        f"  Referral audit sample:      {summary['audit_sample']['sampled']} of the "
        f"{summary['audit_sample']['population']} referrals sent, for the auditors to score (fay.auditor, "
        "hereford.auditor)",
        *(f"  Child risk assessment audit: {path}" for path in summary["cra_audit_reports"]),
        "  Checks:",
        *(f"    {'ok  ' if held else 'FAIL'} {check}" for check, held in summary["checks"].items()),
        *(f"  Unfinished: {what}" for what in summary["unfinished"]),
    ]
    return "\n".join(lines) + "\n"
