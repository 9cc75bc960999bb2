"""The queue's pages: the list (search, filters, sort, "my items", returned drafts), assigning, bulk actions, the
CSV export of the current view, and reopening a returned draft.

A search may be a person's name, so it is posted, kept in the signed-in session and never put in an address or a
log; filters, sort and page are in the address.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vhub import csv_export
from vhub.drafting.environment import uk_datetime
from vhub.errors import BusinessError
from vhub.review import bulk
from vhub.review.accounts import User, keep_search, saved_search
from vhub.review.assignment import Kind, active_users, assign
from vhub.review.decisions import Conflict, reopen
from vhub.review.draft_pages import DONE
from vhub.review.queue import (
    AUTHORITIES,
    FILTERS,
    SORTS,
    STATUSES,
    TYPES,
    clean_filters,
    options,
    queue_page,
    queue_rows,
    search_problem,
)
from vhub.review.record_ids import record_id
from vhub.review.web import SESSION_COOKIE, Web, page
from vhub.store.audit import record_event
from vhub.store.tables import DraftRow, utcnow

QUEUE_DONE = {
    **DONE,
    "assigned": "Assigned to you: it is in your items.",
    "reopened": "Reopened: the draft is back in the queue for review.",
}
CSV_COLUMNS = (
    "item",
    "number",
    "type",
    "source reference",
    "recipient",
    "authority",
    "risk",
    "status",
    "deadline (UK time)",
    "state",
    "owner",
    "created (UK time)",
)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _view(values: Any) -> dict[str, Any]:
    """The view named by an address or a form: filters, sort and direction."""
    filters = clean_filters({name: str(values.get(name) or "") for name in FILTERS})
    sort = str(values.get("sort") or "")
    return {
        "filters": filters,
        "sort": sort if sort in SORTS else "deadline",
        "descending": values.get("dir") == "desc",
    }


def _address(view: dict[str, Any], **changes: Any) -> str:
    """The queue's address for ``view``: only the filters chosen, the sort and its direction, and ``changes``."""
    values = {name: value for name, value in view["filters"].items() if value and (name, value) != ("status", "to_do")}
    if view["sort"] != "deadline":
        values["sort"] = view["sort"]
    if view["descending"]:
        values["dir"] = "desc"
    values.update({name: value for name, value in changes.items() if value not in (None, "")})
    return "/queue" + (f"?{urlencode(values)}" if values else "")


def _back(request: Request) -> dict[str, Any]:
    return _view(request.state.form)


def routes(web: Web) -> list[Route]:
    def queue(web: Web, request: Request) -> Response:
        params, user = request.query_params, request.state.signed.user
        view = _view(params)
        with web.ctx.db.session(read_only=True) as session:
            search = saved_search(session, request.cookies.get(SESSION_COOKIE))
            result = queue_page(
                session,
                view["filters"],
                _int(params.get("page"), 1),
                utcnow(),
                me=user.id,
                search=search,
                sort=view["sort"],
                descending=view["descending"],
            )
            people = active_users(session)
        try:
            bulk_approval, policy_problem = bulk.bulk_approval_allowed(web.settings.review_policy), None
        except BusinessError as error:  # the queue still works; bulk approval stays off until it is fixed
            bulk_approval, policy_problem = False, error.message
        return web.render(
            request,
            "review/queue.html.j2",
            queue=result,
            options=options(),
            done=QUEUE_DONE.get(params.get("done", "")),
            done_draft=_int(params.get("draft"), 0) or None,
            problem=None,
            people=people,
            bulk_approval=bulk_approval,
            policy_problem=policy_problem,
            address=lambda **changes: _address(view, **changes),
            sorted_by=lambda column: _address(
                {**view, "sort": column, "descending": view["sort"] == column and not view["descending"]}
            ),
        )

    def search(web: Web, request: Request) -> Response:
        form, view = request.state.form, _back(request)
        term = None if form.get("clear") else str(form.get("q") or "").strip()
        if term is not None and (problem := search_problem(term)):
            return web.message(request, 422, "Search not run", problem + " Go back and change it.")
        with web.ctx.db.session() as session:
            keep_search(session, request.cookies.get(SESSION_COOKIE), term)
        return RedirectResponse(_address(view), status_code=303)

    def assign_to_me(web: Web, request: Request) -> Response:
        form, user = request.state.form, request.state.signed.user
        kind_given, _, number = str(form.get("item") or "").partition(":")
        kind: Kind = "draft" if kind_given == "draft" else "data_quality"
        row_id = record_id(number)
        try:
            if row_id is None:
                raise BusinessError("There is no such item in the queue.", code="not_found")
            with web.ctx.db.session() as session:
                assign(session, kind, row_id, user, user)
        except BusinessError as error:
            return web.message(request, 409, "Not assigned", error.message + " Go back to the queue.")
        back_to = _int(form.get("page"), 1)
        return RedirectResponse(
            _address(_back(request), page=back_to if back_to > 1 else None, done="assigned"), status_code=303
        )

    def bulk_action(web: Web, request: Request) -> Response:
        form, user = request.state.form, request.state.signed.user
        action = str(form.get("action") or "")
        selected = bulk.parse_selected([str(value) for value in form.getlist("item")])
        owner: User | None = None
        if action == "assign":
            with web.ctx.db.session(read_only=True) as session:
                people = {str(person.id): person for person in active_users(session)}
            owner = people.get(str(form.get("owner") or ""))
            if owner is None and form.get("owner") != "nobody":
                return web.message(request, 422, "Nothing done", "Choose who to assign the items to, then try again.")
        try:
            outcome = bulk.run(
                web.ctx, action, selected, user, now=utcnow(), reason=str(form.get("reason") or ""), owner=owner
            )
        except BusinessError as error:
            return web.message(request, 422, "Nothing done", error.message)
        return web.render(
            request,
            "review/bulk.html.j2",
            outcome=outcome,
            action_name=bulk.ACTIONS[action],
            back=_address(_back(request)),
        )

    def export(web: Web, request: Request) -> Response:
        user, view = request.state.signed.user, _back(request)
        now = utcnow()
        with web.ctx.db.session(read_only=True) as session:
            search = saved_search(session, request.cookies.get(SESSION_COOKIE))
            rows = queue_rows(
                session,
                view["filters"],
                now,
                me=user.id,
                search=search,
                sort=view["sort"],
                descending=view["descending"],
            )
        with web.ctx.db.session() as session:
            record_event(
                session,
                actor=user.username,
                action="queue.exported",
                entity_type="queue",
                entity_id="queue",
                after={
                    "filters": {name: value for name, value in view["filters"].items() if value},
                    "sort": f"{view['sort']} {'descending' if view['descending'] else 'ascending'}",
                    "searched": search is not None,
                    "rows": len(rows),
                    "drafts": [row.id for row in rows if row.kind == "draft"],
                    "data_quality_items": [row.id for row in rows if row.kind == "data_quality"],
                },
            )
        body = "".join(
            csv_export.lines(
                CSV_COLUMNS,
                (
                    [
                        "Draft" if row.kind == "draft" else "Data quality",
                        row.id,
                        TYPES.get(row.type, row.type),
                        row.source,
                        row.recipient,
                        AUTHORITIES.get(row.authority or "", row.authority or ""),
                        row.risk or "",
                        STATUSES.get(row.status, row.status),
                        uk_datetime(row.deadline) if row.deadline else "",
                        row.state,
                        row.owner or "",
                        uk_datetime(row.created_at) if row.created_at else "",
                    ]
                    for row in rows
                ),
            )
        )
        stamp = f"{now:%Y%m%d-%H%M}"
        return Response(
            body.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="review-queue-{stamp}.csv"'},
        )

    def reopen_page(web: Web, request: Request) -> Response:
        draft_id = request.path_params["draft_id"]
        with web.ctx.db.session(read_only=True) as session:
            draft = session.get(DraftRow, draft_id)
            if draft is None:
                return web.message(request, 404, "Not found", f"There is no draft #{draft_id}. Go back to the queue.")
            session.expunge(draft)
        problem, status = None, 200
        if request.method == "POST":
            form, user = request.state.form, request.state.signed.user
            try:
                with web.ctx.db.session() as session:
                    reopen(session, draft_id, user, _int(form.get("row_version"), -1), str(form.get("note") or ""))
                return RedirectResponse(_address(_view({}), done="reopened", draft=draft_id), status_code=303)
            except Conflict as error:
                problem, status = error.message, 409
            except BusinessError as error:
                problem, status = error.message, 422
        return web.render(
            request,
            "review/reopen.html.j2",
            status=status,
            draft=draft,
            problem=problem,
            type_name=TYPES.get(draft.workflow, draft.workflow),
        )

    return [
        Route("/queue", page(web, queue)),
        Route("/queue/search", page(web, search), methods=["POST"]),
        Route("/queue/assign", page(web, assign_to_me), methods=["POST"]),
        Route("/queue/bulk", page(web, bulk_action), methods=["POST"]),
        Route("/queue/export", page(web, export), methods=["POST"]),
        Route("/drafts/{draft_id:id}/reopen", page(web, reopen_page), methods=["GET", "POST"]),
    ]
