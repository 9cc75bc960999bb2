"""The referral quality audit's pages: a month's sample with its progress, and a sampled referral's audit page (what
was sent, the incident it came from, the scoring form).

The force's auditors (and admins) see every sampled referral, the incident behind it and every score. A partner's
auditor is read-only on everything but its own scores: it sees only the sampled referrals sent to its own authority,
and of each only what was shared with that authority (the fields sent, the front door's reference, when it was
sent), with the force's scores beside its own but not the force's comments (which may speak of what was not shared).
One score per auditor and referral: a later save amends it. Every save is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vhub.drafting.referral_form import ReferralForm
from vhub.referral_audit import AuditConfig, audit_config
from vhub.reports.mou import front_doors
from vhub.review.accounts import User
from vhub.review.forms import build_fields, leaves
from vhub.review.web import Web, page
from vhub.store.drafts import load_triage
from vhub.store.incidents import to_model
from vhub.store.referral_audits import sample_months, sampled, save_scores, scores_of
from vhub.store.tables import (
    AuditSampleReferralRow,
    AuditSampleRow,
    DraftRow,
    IncidentRow,
    ReferralAuditRow,
    UserRow,
    utcnow,
)

DONE = {
    "saved": "Your scores are saved.",
    "amended": "Your scores are amended: the earlier ones are in the audit trail.",
}


@dataclass(frozen=True)
class ScoreView:
    """One auditor's scores as a page shows them."""

    who: str
    side: str  # "Force" or the partner's front door
    scores: dict[str, int]
    comment: str | None  # None: not shown to this viewer
    saved_at: Any
    mine: bool


@dataclass(frozen=True)
class SampleLine:
    """A sampled referral on the month's list, with who has scored it."""

    item: AuditSampleReferralRow
    mine: bool
    force: int  # force auditors' scores
    partner: int  # partner auditors' scores


def _own(user: User, item: AuditSampleReferralRow | None) -> bool:
    """Whether ``user`` may see ``item``: the force's auditors any, a partner's only those sent to its authority."""
    return item is not None and (not user.is_partner or item.authority == user.authority)


def _views(
    rows: list[ReferralAuditRow], names: dict[int, tuple[str, str | None]], user: User, doors: dict[str, str]
) -> list[ScoreView]:
    views = []
    for row in rows:
        name, authority = names.get(row.user_id, ("?", None))
        mine = row.user_id == user.id
        if user.is_partner and not mine and row.side == "partner":
            continue  # another partner auditor's scores are theirs to share
        side = "Force" if row.side == "force" else doors.get(authority or "", authority or "Partner")
        shown_name = name if (mine or not user.is_partner) else "Force auditor"
        comment = row.comment if (mine or not user.is_partner) else None
        views.append(ScoreView(shown_name, side, dict(row.scores), comment, row.updated_at, mine))
    return views


def _list(web: Web, request: Request) -> Response:
    user: User = request.state.signed.user
    asked = request.query_params.get("month", "")
    with web.ctx.db.session(read_only=True) as session:
        months = sample_months(session)
        month = asked if asked in months else (months[0] if months else None)
        # A partner's auditor sees its own authority's referrals only (an account without one sees none).
        items = sampled(session, month, (user.authority or "-") if user.is_partner else None) if month else []
        scores = scores_of(session, [item.id for item in items])
        sample = session.scalar(select(AuditSampleRow).where(AuditSampleRow.month == month)) if month else None
        if sample is not None:
            session.expunge(sample)
        for item in items:
            session.expunge(item)
        rows = [
            SampleLine(
                item,
                any(row.user_id == user.id for row in scores[item.id]),
                sum(row.side == "force" for row in scores[item.id]),
                sum(row.side == "partner" for row in scores[item.id]),
            )
            for item in items
        ]
    progress = {
        "total": len(rows),
        "mine": sum(row.mine for row in rows),
        "force": sum(bool(row.force) for row in rows),
        "partner": sum(bool(row.partner) for row in rows),
    }
    return web.render(
        request,
        "review/referral_audits.html.j2",
        months=months,
        month=month,
        sample=sample,
        rows=rows,
        progress=progress,
        doors=front_doors(),
        partner=user.is_partner,
    )


def _page_values(web: Web, user: User, item_id: int) -> dict[str, Any] | None:
    """What the audit page shows of sampled referral ``item_id`` to ``user``; None if they may not see it."""
    doors = front_doors()
    with web.ctx.db.session(read_only=True) as session:
        item = session.get(AuditSampleReferralRow, item_id)
        if item is None or not _own(user, item):
            return None
        draft = session.get_one(DraftRow, item.draft_id)
        month = session.get_one(AuditSampleRow, item.sample_id).month
        sent_fields = [(label, field.value) for label, field in leaves(build_fields(ReferralForm, draft.payload, {}))]
        incident = triage = None
        if not user.is_partner and draft.incident_id is not None:
            incident = to_model(session.get_one(IncidentRow, draft.incident_id))
            triage = load_triage(session, draft.incident_id)
        names = {
            row.id: (row.display_name, row.authority)
            for row in session.execute(select(UserRow.id, UserRow.display_name, UserRow.authority)).all()
        }
        given = scores_of(session, [item.id])[item.id]
        mine = next((row for row in given if row.user_id == user.id), None)
        values = {
            "item": {
                "id": item.id,
                "draft_id": item.draft_id,
                "authority": item.authority,
                "front_door": doors.get(item.authority, item.authority),
                "risk": item.risk,
                "partner_reference": item.partner_reference,
                "sent_at": item.sent_at,
                "content_version": item.content_version,
                "changed_since": draft.content_version != item.content_version,
                "source_ref": draft.source_ref,
                "reasons": draft.reasons,
            },
            "month": month,
            "sent_fields": sent_fields,
            "incident": incident,
            "triage": triage,
            "scores": _views(given, names, user, doors),
            "mine": {"scores": dict(mine.scores), "comment": mine.comment} if mine else None,
        }
    return values


def _show(
    web: Web,
    request: Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    user: User = request.state.signed.user
    values = _page_values(web, user, request.path_params["sampled_id"])
    if values is None:
        return web.message(request, 404, "Not found", "There is no sampled referral of yours at this address.")
    config = audit_config()
    form = typed if typed is not None else (values["mine"] or {"scores": {}, "comment": ""})
    return web.render(
        request,
        "review/referral_audit.html.j2",
        status=status,
        **values,
        config=config,
        form=form,
        errors=errors or {},
        partner=user.is_partner,
        done=DONE.get(request.query_params.get("done", "")),
    )


def read_form(config: AuditConfig, form: Any) -> tuple[dict[str, int], str, dict[str, str]]:
    """The scores and comment posted, and a plain message per field that is wrong (naming it, never echoing it)."""
    scale = config.scale
    scores: dict[str, int] = {}
    errors: dict[str, str] = {}
    for criterion in config.criteria:
        given = str(form.get(criterion.key) or "").strip()
        if given.isdigit() and int(given) in scale.scores:
            scores[criterion.key] = int(given)
        else:
            errors[criterion.key] = (
                f"{criterion.label}: choose a score from {scale.lowest} to {scale.highest}."
                if not given
                else f"{criterion.label}: a score is a whole number from {scale.lowest} to {scale.highest}."
            )
    comment = str(form.get("comment") or "").strip()
    if len(comment) > config.comment.max_length:
        errors["comment"] = f"Comment: at most {config.comment.max_length} characters."
    return scores, comment, errors


def _save(web: Web, request: Request) -> Response:
    user: User = request.state.signed.user
    config = audit_config()
    scores, comment, errors = read_form(config, request.state.form)
    if errors:
        typed = {
            "scores": {key: str(request.state.form.get(key) or "") for key in config.keys},
            "comment": comment[: config.comment.max_length + 1],
        }
        return _show(web, request, status=422, errors=errors, typed=typed)
    item_id = request.path_params["sampled_id"]
    with web.ctx.db.session() as session:
        item = session.get(AuditSampleReferralRow, item_id)
        if item is None or not _own(user, item):
            return web.message(request, 404, "Not found", "There is no sampled referral of yours at this address.")
        _, amended = save_scores(
            session,
            item,
            user_id=user.id,
            username=user.username,
            side="partner" if user.is_partner else "force",
            scores=scores,
            comment=comment,
            now=utcnow(),
        )
    done = "amended" if amended else "saved"
    return RedirectResponse(f"/referral-audits/{item_id}?{urlencode({'done': done})}", status_code=303)


def routes(web: Web) -> list[Route]:
    return [
        Route("/referral-audits", page(web, _list, "auditor")),
        Route("/referral-audits/{sampled_id:id}", page(web, _show, "auditor"), methods=["GET"]),
        Route("/referral-audits/{sampled_id:id}", page(web, _save, "auditor"), methods=["POST"]),
    ]
