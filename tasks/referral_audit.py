"""The monthly referral quality audit's sample, drawn early on the 1st for the month before (scheduled), or by hand
with `vhub audit sample --month YYYY-MM`. A month is drawn once: a second draw finds the first and changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vhub import logs
from vhub.clock import moment
from vhub.context import AppContext, current
from vhub.referral_audit import audit_config, previous_month
from vhub.reports.mou import month_bounds
from vhub.store.referral_audits import draw_sample, sampled

log = logs.get_logger(__name__)

ACTOR = "vhub:referral-audit"


def draw_month(
    ctx: AppContext, month: str, *, actor: str, now: datetime, before_the_end: bool = False
) -> dict[str, Any]:
    """Draw ``month``'s sample unless it was drawn before (``now``: the moment it is drawn at, after the month's
    end, unless ``before_the_end``: the demo's); what the sample holds, by authority."""
    _, start, end = month_bounds(month)
    config = audit_config()
    with ctx.db.session() as session:
        sample, drawn = draw_sample(
            session, month, start, end, config, actor=actor, now=now, before_the_end=before_the_end
        )
        by_authority: dict[str, int] = {}
        for item in sampled(session, month):
            by_authority[item.authority] = by_authority.get(item.authority, 0) + 1
        summary = {
            "month": month,
            "drawn_now": drawn,
            "drawn_at": sample.drawn_at.isoformat(),
            "drawn_by": sample.drawn_by,
            "population": sample.population,
            "sampled": sum(by_authority.values()),
            "by_authority": by_authority,
        }
    log.info("referral audit sample", **{key: value for key, value in summary.items() if key != "by_authority"})
    return summary


def draw_audit_sample(at: str | None = None) -> dict[str, Any]:
    """Draw the sample of the month before the moment ``at`` (now if not given) falls in, as at that moment."""
    logs.bind(step="audit_sample")
    when = moment(at)
    return draw_month(current(), previous_month(when), actor=ACTOR, now=when)
