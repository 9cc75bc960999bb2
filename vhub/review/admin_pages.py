"""Administration: accounts (add, disable) and failed jobs (see why, replay). Every change is audited."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vhub import failed
from vhub.errors import BusinessError
from vhub.review.accounts import ROLES, add_user, disable_user
from vhub.review.web import Web, page
from vhub.store.audit import record_event
from vhub.store.tables import UserRow, utcnow

USERNAME = re.compile(r"[A-Za-z0-9._-]{2,80}")
REDIS_DOWN = (
    "The job queue (Redis) cannot be reached, so failed jobs cannot be listed or replayed. Check that the stack "
    "is running (vhub status), then reload this page. Nothing was changed."
)


USER_DONE = {"added": "Account {username} added.", "disabled": "Account {username} disabled: its sessions have ended."}


def _accounts(web: Web) -> list[dict[str, Any]]:
    now = utcnow()
    with web.ctx.db.session() as session:
        rows = session.scalars(select(UserRow).order_by(UserRow.disabled, UserRow.username)).all()
        return [
            {
                "row": row,
                "paused": row.locked_until is not None and row.locked_until > now,
                "disable_url": f"/admin/users/{quote(row.username, safe='')}/disable",
            }
            for row in rows
        ]


def _users_page(
    web: Web,
    request: Request,
    *,
    status: int = 200,
    problem: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    accounts = _accounts(web)
    done = USER_DONE.get(request.query_params.get("done", ""))
    named = request.query_params.get("username", "")
    if named not in {account["row"].username for account in accounts}:
        done = None  # only ever confirm what happened to an account that exists
    return web.render(
        request,
        "review/users.html.j2",
        status=status,
        users=accounts,
        roles=ROLES,
        me=request.state.signed.user.username,
        done=done.format(username=named) if done else None,
        problem=problem,
        errors=errors or {},
        typed=typed or {"username": "", "display_name": "", "role": "reviewer"},
    )


def _users(web: Web, request: Request) -> Response:
    return _users_page(web, request)


def _add(web: Web, request: Request) -> Response:
    form = request.state.form
    typed = {name: str(form.get(name) or "").strip() for name in ("username", "display_name", "role")}
    password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
    errors: dict[str, str] = {}
    if not USERNAME.fullmatch(typed["username"]):
        errors["username"] = "A username is 2 to 80 letters, digits, dots, hyphens or underscores, like alex.reviewer."
    if not typed["display_name"]:
        errors["display_name"] = "Enter the name people will see, for example Alex Reviewer."
    if typed["role"] not in ROLES:
        errors["role"] = "Choose reviewer or admin."
    if password != again:
        errors["password_again"] = "The two passwords differ: type the same one in both boxes."  # noqa: S105
    if errors:
        return _users_page(
            web,
            request,
            status=422,
            errors=errors,
            typed=typed,
            problem="Some answers need correcting: see the messages beside the fields. Nothing was saved.",
        )
    admin = request.state.signed.user.username
    try:
        with web.ctx.db.session() as session:
            add_user(session, typed["username"], password, typed["role"], typed["display_name"], actor=admin)
    except BusinessError as error:
        return _users_page(web, request, status=422, typed=typed, problem=error.message)
    return RedirectResponse(f"/admin/users?{urlencode({'done': 'added', 'username': typed['username']})}", 303)


def _disable(web: Web, request: Request) -> Response:
    username = request.path_params["username"]
    me = request.state.signed.user.username
    if username == me:
        return _users_page(
            web,
            request,
            status=409,
            problem="You cannot disable your own account. Ask another administrator if it must be disabled.",
        )
    try:
        with web.ctx.db.session() as session:
            disable_user(session, username, actor=me)
    except BusinessError as error:
        return _users_page(web, request, status=404, problem=error.message + " Nothing was changed.")
    return RedirectResponse(f"/admin/users?{urlencode({'done': 'disabled', 'username': username})}", 303)


# Failed jobs


def _when(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _failed_jobs(web: Web, request: Request) -> Response:
    try:
        jobs = [replace(job, failed_at=_when(job.failed_at)) for job in failed.list_failed(web.ctx.jobs)]
    except RedisError:
        return web.message(request, 503, "Job queue unavailable", REDIS_DOWN)
    done = None
    if request.query_params.get("done") == "replayed":
        count = request.query_params.get("count", "")
        count = count if count.isdigit() else "0"
        done = (
            f"Replayed {count} job{'' if count == '1' else 's'}: back on their queues for a worker to pick up."
            if count != "0"
            else "Nothing was replayed: those jobs were no longer failed (someone may have replayed them already)."
        )
    return web.render(request, "review/failed_jobs.html.j2", jobs=jobs, done=done)


def _replay_jobs(web: Web, request: Request) -> Response:
    form = request.state.form
    everything = form.get("all") == "yes"
    wanted = [str(job_id) for job_id in form.getlist("job_id") if job_id]
    if not everything and not wanted:
        return web.message(
            request, 422, "Nothing chosen", "Choose a job's Replay button, or Replay all. Nothing was changed."
        )
    admin = request.state.signed.user.username
    try:
        with web.ctx.db.session() as session:
            targets = [job.id for job in failed.list_failed(web.ctx.jobs)] if everything else wanted
            replayed = sum(_replay_one(web, session, admin, job_id) for job_id in targets)
    except RedisError:
        return web.message(request, 503, "Job queue unavailable", REDIS_DOWN)
    return RedirectResponse(f"/admin/failed-jobs?{urlencode({'done': 'replayed', 'count': replayed})}", 303)


def _replay_one(web: Web, session: Session, admin: str, job_id: str) -> int:
    """Replay one job and audit it; one at a time, so a job someone else replayed meanwhile is skipped."""
    try:
        replayed = failed.replay(web.ctx.jobs, [job_id])
    except (NoSuchJobError, InvalidJobOperation):
        return 0  # no longer failed: replayed by someone else since the page was shown, or expired
    for done in replayed:
        record_event(
            session,
            actor=admin,
            action="job.replayed",
            entity_type="job",
            entity_id=done,
            before={"status": "failed"},
            after={"status": "queued"},
        )
    return len(replayed)


def routes(web: Web) -> list[Route]:
    return [
        Route("/admin/users", page(web, _users, "admin"), methods=["GET"]),
        Route("/admin/users", page(web, _add, "admin"), methods=["POST"]),
        Route("/admin/users/{username}/disable", page(web, _disable, "admin"), methods=["POST"]),
        Route("/admin/failed-jobs", page(web, _failed_jobs, "admin")),
        Route("/admin/failed-jobs/replay", page(web, _replay_jobs, "admin"), methods=["POST"]),
    ]
