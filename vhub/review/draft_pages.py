"""The queue and the draft pages: open, edit, approve, reject or return a draft.

Opening a draft claims it. The referral form is edited through ReferralForm itself: an invalid value
comes back with its field's error and every other edit kept. Notices and responses are edited as text
beside their structured fields. Every decision names the draft version it was made on.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vhub.cra_audit import cra_rubric
from vhub.drafting.environment import uk_datetime
from vhub.drafting.payloads import SENDS_TEXT, edited_as
from vhub.errors import BusinessError
from vhub.evidence import store_for
from vhub.isr import IsrRequest
from vhub.models import Incident
from vhub.review.decisions import Conflict, approve, claim, reject, return_for_fix, save_edits, take_back
from vhub.review.forms import Difference, build_fields, describe_errors, differences, parse_form
from vhub.review.queue import PAGE_SIZE, STATUSES, TYPES, queue_page, time_left
from vhub.review.web import Web, page
from vhub.store.cra_scores import scores_of
from vhub.store.draft_status import APPROVALS, DraftStatus, approvers
from vhub.store.drafts import load_triage
from vhub.store.incidents import to_model
from vhub.store.partner_decisions import partner_outcome
from vhub.store.tables import (
    AuditEventRow,
    DecisionRow,
    DraftRow,
    IncidentRow,
    IsrRequestRow,
    SubmissionRow,
    UserRow,
    utcnow,
)

DONE = {
    "approved": "Approved: the submission is queued.",
    "awaiting_second_approval": "Approved once: red-risk drafts need a second reviewer, who will see it in the queue.",
    "rejected": "Rejected: nothing will be sent.",
    "returned": "Returned for a data fix.",
    "taken_back": "Taken back to review: nothing will be sent until it is approved again.",
    "saved": "Your changes are saved.",
    "resolved": "The data-quality item is resolved.",
    "corrected": "Corrected: triage runs again with the correction.",
    "empty": "Nothing else is waiting for you: the queue is empty, or someone else is reviewing the rest.",
}


_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]{0,119}")  # a form field's name, as the page gives it
_NEXT_PAGES = 8  # how far down the queue "Next item" looks for an item nobody else is reviewing


def status_line(
    status: DraftStatus, *, approved_by: list[str], first_approver: str | None, decisions: list[dict[str, Any]]
) -> str:
    """What the draft's status means now and what happens next, for every status of its life
    (vhub/store/draft_status.py). ``decisions``: the draft's decisions, oldest first (who, when, decision)."""
    last = next((d for d in reversed(decisions) if d["decision"] == status.value), None)
    by = " and ".join(approved_by) or "a reviewer"
    who = f" by {last['who']} on {uk_datetime(last['at'])}" if last else ""
    lines = {
        DraftStatus.AWAITING_REVIEW: (
            f"approved once, by {first_approver}: red-risk drafts need a second, different reviewer to approve."
            if first_approver
            else "waiting for a reviewer to approve, edit, reject or return it."
        ),
        DraftStatus.APPROVED: f"approved by {by}; the submission is queued to the partner's portal.",
        DraftStatus.SENDING: f"approved by {by}; being sent to the partner's portal now.",
        DraftStatus.SENT: f"sent to the partner, approved by {by}. Nothing more to do.",
        DraftStatus.REJECTED: f"rejected{who}: nothing will be sent.",
        DraftStatus.RETURNED: f"returned for a data fix{who}: a corrected record in the source brings a new draft.",
        DraftStatus.SUPERSEDED: "replaced by a draft of a newer incident version: nothing is sent from this one.",
    }
    return lines[status]


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _evidence(web: Web, submission: SubmissionRow | None) -> list[str]:
    """The evidence the bot kept for this draft's submission (named by job and submission key: screenshot, page and
    Playwright trace of a failure, or the confirmation when successes are kept), newest first."""
    if submission is None:
        return []
    return store_for(web.settings, web.ctx.db).of_submission(submission.portal, submission.key)


def _changes_since_first_approval(session: Session, draft_id: int, names: dict[int, str]) -> dict[str, Any] | None:
    """Every field people changed after the draft's first approval (by whom, before and after), so whoever
    approves next sees what the earlier approver did not."""
    first = session.scalars(
        select(DecisionRow)
        .where(DecisionRow.draft_id == draft_id, DecisionRow.decision.in_(APPROVALS))
        .order_by(DecisionRow.id)
    ).first()
    if first is None:
        return None
    edits = session.scalars(
        select(AuditEventRow)
        .where(
            AuditEventRow.entity_type == "draft",
            AuditEventRow.entity_id == str(draft_id),
            AuditEventRow.action == "draft.edited",
            AuditEventRow.at >= first.at,
        )
        .order_by(AuditEventRow.id)
    )
    items = [
        {"field": field, "before": (event.before or {}).get(field), "after": value, "who": event.actor, "at": event.at}
        for event in edits
        for field, value in (event.after or {}).items()
        if field not in ("approvals_cleared", "content_version")
    ]
    if not items:
        return None
    return {"since": f"{names.get(first.user_id, '?')}, {uk_datetime(first.at)}", "rows": items}


def _assessments(session: Session, incident_id: int, incident: Incident) -> list[dict[str, Any]]:
    """Each linked child's child risk assessment as the audit scored it (or that it has none), in the order the
    incident lists the children, with the area, team and contact a reviewer sends it back to."""
    scores = scores_of(session, incident_id)
    if not scores:
        return []
    rubric = cra_rubric()
    names = {person.nominal_ref: f"{person.forename} {person.surname}" for person in incident.people}
    order = {person.nominal_ref: index for index, person in enumerate(incident.people)}
    return [
        {**vars(item), "name": names.get(ref, ""), "contact": rubric.contact(item.area)}
        for ref, item in sorted(scores.items(), key=lambda pair: order.get(pair[0], len(order)))
    ]


def _context(web: Web, draft: DraftRow, request: Request) -> dict[str, Any]:
    """Everything the draft page shows beside the draft: the source's facts, triage, history."""
    now = utcnow()
    with web.ctx.db.session(read_only=True) as session:
        row = session.get_one(DraftRow, draft.id)
        incident = triage = request_info = None
        assessments: list[dict[str, Any]] = []
        if row.incident_id is not None:
            incident_row = session.get_one(IncidentRow, row.incident_id)
            incident = to_model(incident_row)
            triage = load_triage(session, row.incident_id)
            assessments = _assessments(session, row.incident_id, incident)
        if row.isr_request_id is not None:
            request_info = IsrRequest.model_validate(session.get_one(IsrRequestRow, row.isr_request_id).request)
        names = dict(session.execute(select(UserRow.id, UserRow.display_name)).all())
        decisions = [
            {"decision": d.decision, "who": names.get(d.user_id, "?"), "at": d.at, "reason": d.reason}
            for d in session.scalars(select(DecisionRow).where(DecisionRow.draft_id == row.id).order_by(DecisionRow.id))
        ]
        changes = _changes_since_first_approval(session, row.id, names)
        approved_by = [names.get(user_id, "?") for user_id in approvers(session, row)]
        submission = session.scalars(select(SubmissionRow).where(SubmissionRow.draft_id == row.id)).first()
        if submission is not None:
            session.expunge(submission)
        outcome = partner_outcome(session, row.id)
    left, state = time_left(draft.deadline, now)
    claimed = draft.claimed_by if draft.claimed_until and draft.claimed_until > now else None
    first_approver = names.get(draft.first_approver) if draft.first_approver else None
    return {
        "draft": draft,
        "incident": incident,
        "assessments": assessments,
        "triage": triage,
        "request_info": request_info,
        "decisions": decisions,
        "changes": changes,
        "submission": submission,
        "partner_outcome": outcome,
        "evidence": _evidence(web, submission),
        "time_left": left,
        "state": state,
        "claimed_by": names.get(claimed) if claimed else None,
        "first_approver": first_approver,
        "type_name": TYPES.get(draft.workflow, draft.workflow),
        "status_name": STATUSES["second_approval"]
        if draft.status == DraftStatus.AWAITING_REVIEW and first_approver
        else STATUSES.get(draft.status, draft.status.replace("_", " ").capitalize()),
        "status_line": status_line(
            DraftStatus(draft.status),
            approved_by=approved_by,
            first_approver=first_approver,
            decisions=decisions,
        ),
    }


def show_draft(
    web: Web,
    request: Request,
    draft_id: int,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    typed_text: str | None = None,
    problem: str | None = None,
    stale: list[Difference] | None = None,
    status: int = 200,
) -> Response:
    user = request.state.signed.user
    with web.ctx.db.session() as session:
        draft = session.get(DraftRow, draft_id)
        if draft is None:
            return web.message(request, 404, "Not found", f"There is no draft #{draft_id}. Go back to the queue.")
        held_by = claim(session, draft, user, now=utcnow(), minutes=web.settings.review_claim_minutes)
        session.flush()
        session.expunge(draft)
    values = _context(web, draft, request)
    form_fields = None
    if model := edited_as(draft.workflow, draft.policy):
        form_fields = build_fields(model, typed if typed is not None else draft.payload, errors or {})
    return web.render(
        request,
        "review/draft.html.j2",
        status=status,
        **values,
        form_fields=form_fields,
        text=typed_text if typed_text is not None else draft.text,
        text_is_sent=draft.workflow in SENDS_TEXT,
        errors=errors or {},
        problem=problem,
        held_by=held_by,
        stale=stale,
        asked=_asked(request),
        done=DONE.get(request.query_params.get("done", "")),
    )


def _asked(request: Request) -> dict[str, str]:
    """A reject or return that came back (no reason, or the draft changed): its action and the reason typed, so
    the page opens it again with the words kept."""
    form = getattr(request.state, "form", None) if request.method == "POST" else None
    action = str(form.get("action") or "") if form is not None else ""
    if action not in ("reject", "return"):
        return {}
    return {"action": action, "reason": str(form.get("reason") or "") if form is not None else ""}


def _stale(web: Web, draft_id: int, typed: dict[str, Any] | None, text: str | None) -> list[Difference]:
    """What the person typed that differs from the version now stored (another tab or person saved first)."""
    with web.ctx.db.session(read_only=True) as session:
        draft = session.get_one(DraftRow, draft_id)
        workflow, policy, payload, stored_text = draft.workflow, draft.policy, draft.payload, draft.text
    found = []
    model = edited_as(workflow, policy)
    if model is not None and typed is not None:
        found = differences(model, typed, payload)
    if text is not None and text != stored_text:
        found.append(Difference("text", "Text the recipient will read", text, stored_text))
    return found


def next_item(session: Session, user_id: int, after: int, now: datetime) -> str | None:
    """The first item of the to-do queue, in its order, that is not ``after`` and nobody else is reviewing."""
    for number in range(1, _NEXT_PAGES + 1):
        result = queue_page(session, {}, number, now)
        for row in result.rows:
            if row.kind == "draft" and row.id == after:
                continue
            if row.kind == "draft":
                held = session.get_one(DraftRow, row.id)
                if held.claimed_by not in (None, user_id) and held.claimed_until and held.claimed_until > now:
                    continue
                if held.first_approver == user_id:  # they cannot give the second approval themselves
                    continue
            return row.href
        if number >= result.pages or len(result.rows) < PAGE_SIZE:
            break
    return None


def routes(web: Web) -> list[Route]:
    def next_(web: Web, request: Request) -> Response:
        after = _int(request.query_params.get("after"), 0)
        with web.ctx.db.session(read_only=True) as session:
            href = next_item(session, request.state.signed.user.id, after, utcnow())
        return RedirectResponse(href or "/queue?done=empty", status_code=303)

    def draft(web: Web, request: Request) -> Response:
        return show_draft(web, request, _int(request.path_params["draft_id"], 0))

    def decide(web: Web, request: Request) -> Response:
        draft_id = _int(request.path_params["draft_id"], 0)
        form = request.state.form
        action = str(form.get("action") or "")
        row_version = _int(form.get("row_version"), -1)
        user = request.state.signed.user
        now = utcnow()
        with web.ctx.db.session() as session:
            current = session.get(DraftRow, draft_id)
            workflow, policy = (current.workflow, current.policy) if current else (None, None)
        if workflow is None:
            return web.message(request, 404, "Not found", f"There is no draft #{draft_id}. Go back to the queue.")
        payload = text = None
        if action in ("save", "approve"):
            model = edited_as(workflow, policy)
            typed = parse_form(model, [(k, str(v)) for k, v in form.multi_items()]) if model else {}
            if model and typed:  # a post with none of the fields (Approve from a list) approves what is stored
                try:
                    payload = model.model_validate(typed).model_dump(mode="json")
                except ValidationError as error:
                    return show_draft(
                        web,
                        request,
                        draft_id,
                        errors=describe_errors(model, error),
                        typed=typed,
                        problem="Some values need correcting (marked below); nothing was saved.",
                        status=422,
                    )
            if workflow in SENDS_TEXT and "text" in form:
                text = str(form.get("text")).replace("\r\n", "\n")
                if not text.strip():
                    return show_draft(
                        web,
                        request,
                        draft_id,
                        typed_text=text,
                        status=422,
                        problem="The text is empty: write what the recipient should read.",
                    )
        outcome: str
        try:
            with web.ctx.db.session() as session:
                if action in ("save", "approve"):
                    edited = save_edits(session, draft_id, user, row_version, now=now, payload=payload, text=text)
                    row_version = edited.row_version
                if action == "approve":
                    outcome = approve(
                        session,
                        draft_id,
                        user,
                        row_version,
                        now=now,
                        jobs=web.ctx.jobs,
                        second_approver_for_red=web.settings.review_second_approver_for_red,
                    )
                elif action == "reject":
                    reject(session, draft_id, user, row_version, str(form.get("reason") or ""), now=now)
                    outcome = "rejected"
                elif action == "return":
                    return_for_fix(session, draft_id, user, row_version, str(form.get("reason") or ""), now=now)
                    outcome = "returned"
                elif action == "take_back":
                    reason = str(form.get("reason") or "")
                    take_back(session, draft_id, user, row_version, reason, now=now, jobs=web.ctx.jobs)
                    outcome = "taken_back"
                elif action == "save":
                    outcome = "saved"
                else:
                    return web.message(request, 400, "Unknown action", "Use the buttons on the draft page.")
        except Conflict as error:
            if action in ("save", "approve") and (payload is not None or text is not None):
                return show_draft(
                    web,
                    request,
                    draft_id,
                    problem=f"Draft #{draft_id} was changed (in another tab or by another person) after you opened "
                    "it, so your changes were not saved. Nothing you typed is lost: it is shown below beside the "
                    "version now stored.",
                    stale=_stale(web, draft_id, payload, text),
                    status=409,
                )
            return show_draft(web, request, draft_id, problem=error.message, status=409)
        except BusinessError as error:
            return show_draft(
                web, request, draft_id, problem=error.message, status=422, typed_text=text if text is not None else None
            )
        if outcome == "saved":
            # Back to the field the person was editing (draft.js focuses it), not the top of a long page.
            focus = str(form.get("focus") or "")
            where = {"done": "saved", **({"focus": focus} if _FIELD_PATH.fullmatch(focus) else {})}
            return RedirectResponse(f"/drafts/{draft_id}?{urlencode(where)}", status_code=303)
        return RedirectResponse(f"/queue?{urlencode({'done': outcome, 'draft': draft_id})}", status_code=303)

    async def home(request: Request) -> Response:
        return RedirectResponse("/queue", status_code=303)

    return [
        Route("/", home),
        Route("/queue/next", page(web, next_)),
        Route("/drafts/{draft_id:id}", page(web, draft)),
        Route("/drafts/{draft_id:id}/decide", page(web, decide), methods=["POST"]),
    ]
