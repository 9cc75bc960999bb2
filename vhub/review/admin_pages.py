"""Administration: accounts (add, disable, re-enable, new password), failed jobs (why in plain words, evidence,
replay, discard) and paused portals (resume). Every change is audited."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vhub import failed
from vhub.errors import BusinessError, VhubError
from vhub.evidence import store_for
from vhub.portals import portal_names
from vhub.reports.mou import front_doors
from vhub.review.accounts import (
    ROLE_WORDS,
    ROLES,
    add_user,
    authority_problem,
    disable_user,
    enable_user,
    list_users,
    reset_password,
)
from vhub.review.web import Web, page
from vhub.store.tables import utcnow

USERNAME = re.compile(r"[A-Za-z0-9._-]{2,80}")
REDIS_DOWN = (
    "The job queue (Redis) cannot be reached, so failed jobs cannot be listed or replayed. Check that the stack "
    "is running (vhub status), then reload this page. Nothing was changed."
)


USER_DONE = {
    "added": "Account {username} added.",
    "disabled": "Account {username} disabled: its sessions have ended.",
    "enabled": "Account {username} can sign in again.",
    "already": "Account {username} could already sign in: nothing was changed.",
    "password": "Account {username} has a new password and its sessions have ended: give the password to its owner "
    "by a separate, safe route.",
}


def _accounts(web: Web) -> list[dict[str, Any]]:
    now = utcnow()
    with web.ctx.db.session(read_only=True) as session:
        return [
            {
                "row": row,
                "paused": row.locked_until is not None and row.locked_until > now,
                "disable_url": f"/admin/users/{quote(row.username, safe='')}/disable",
                "enable_url": f"/admin/users/{quote(row.username, safe='')}/enable",
                "password_url": f"/admin/users/{quote(row.username, safe='')}/password",
            }
            for row in list_users(session)
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
        authorities=front_doors(),
        me=request.state.signed.user.username,
        done=done.format(username=named) if done else None,
        problem=problem,
        errors=errors or {},
        typed=typed or {"username": "", "display_name": "", "role": "reviewer", "authority": ""},
    )


def _users(web: Web, request: Request) -> Response:
    return _users_page(web, request)


def _add(web: Web, request: Request) -> Response:
    form = request.state.form
    typed = {name: str(form.get(name) or "").strip() for name in ("username", "display_name", "role", "authority")}
    password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
    errors: dict[str, str] = {}
    if not USERNAME.fullmatch(typed["username"]):
        errors["username"] = "A username is 2 to 80 letters, digits, dots, hyphens or underscores, like alex.reviewer."
    if not typed["display_name"]:
        errors["display_name"] = "Enter the name people will see, for example Alex Reviewer."
    if typed["role"] not in ROLES:
        errors["role"] = f"Choose {ROLE_WORDS}."
    elif problem := authority_problem(typed["role"], typed["authority"] or None, sorted(front_doors())):
        errors["authority"] = problem
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
            add_user(
                session,
                typed["username"],
                password,
                typed["role"],
                typed["display_name"],
                actor=admin,
                authority=typed["authority"] or None,
            )
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


def _enable(web: Web, request: Request) -> Response:
    username = request.path_params["username"]
    try:
        with web.ctx.db.session() as session:
            changed = enable_user(session, username, actor=request.state.signed.user.username)
    except BusinessError as error:
        return _users_page(web, request, status=404, problem=error.message + " Nothing was changed.")
    done = "enabled" if changed else "already"
    return RedirectResponse(f"/admin/users?{urlencode({'done': done, 'username': username})}", 303)


def _password_page(web: Web, request: Request, *, status: int = 200, problem: str | None = None) -> Response:
    username = request.path_params["username"]
    with web.ctx.db.session(read_only=True) as session:
        known = {row.username: row for row in list_users(session)}
    if username not in known:
        return web.message(request, 404, "No such account", f"There is no account called {username}.")
    return web.render(
        request,
        "review/password.html.j2",
        status=status,
        account=known[username],
        action=f"/admin/users/{quote(username, safe='')}/password",
        problem=problem,
    )


def _password(web: Web, request: Request) -> Response:
    return _password_page(web, request)


def _set_password(web: Web, request: Request) -> Response:
    username = request.path_params["username"]
    form = request.state.form
    password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
    if password != again:
        return _password_page(
            web, request, status=422, problem="The two passwords differ: type the same one twice. Nothing was changed."
        )
    try:
        with web.ctx.db.session() as session:
            reset_password(session, username, password, actor=request.state.signed.user.username)
    except BusinessError as error:
        if error.code == "unknown_account":
            return web.message(request, 404, "No such account", error.message + " Nothing was changed.")
        return _password_page(web, request, status=422, problem=error.message + " Nothing was changed.")
    return RedirectResponse(f"/admin/users?{urlencode({'done': 'password', 'username': username})}", 303)


# Failed jobs


def _failed_jobs(web: Web, request: Request) -> Response:
    try:
        jobs = failed.list_failed(web.ctx.jobs)
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
    elif request.query_params.get("done") == "discarded":
        job_id = request.query_params.get("job", "")
        if failed.JOB_ID.fullmatch(job_id):
            done = f"Job {job_id} was discarded. The audit trail keeps who discarded it, why and what became of it."
    return web.render(request, "review/failed_jobs.html.j2", jobs=jobs, done=done)


def _failed_job(web: Web, request: Request, *, status: int = 200, problem: str | None = None) -> Response:
    job_id = request.path_params["job"]
    try:
        job = failed.show(web.ctx.jobs, job_id, store_for(web.settings, web.ctx.db))
    except RedisError:
        return web.message(request, 503, "Job queue unavailable", REDIS_DOWN)
    except VhubError:
        return web.message(
            request,
            404,
            "Not a failed job",
            "That job is not among the failed jobs: it may have been replayed or discarded already. "
            "Go back to the failed jobs.",
        )
    return web.render(
        request,
        "review/failed_job.html.j2",
        status=status,
        job=job,
        files=failed.EVIDENCE_FILES,
        problem=problem,
        reason=str(getattr(request.state, "form", {}).get("reason") or "") if problem else "",
    )


def _show_failed(web: Web, request: Request) -> Response:
    return _failed_job(web, request)


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
        failed.record_replayed(session, done, actor=admin)
    return len(replayed)


def _discard(web: Web, request: Request) -> Response:
    job_id = request.path_params["job"]
    reason = str(request.state.form.get("reason") or "")
    try:
        failed.discard(web.ctx.jobs, web.ctx.db, job_id, reason=reason, actor=request.state.signed.user.username)
    except RedisError:
        return web.message(request, 503, "Job queue unavailable", REDIS_DOWN)
    except BusinessError as error:
        return _failed_job(web, request, status=422, problem=error.message)
    except VhubError:  # not (or no longer) a failed job
        return _failed_job(web, request)
    return RedirectResponse(f"/admin/failed-jobs?{urlencode({'done': 'discarded', 'job': job_id})}", 303)


def _evidence(web: Web, request: Request) -> Response:
    """One file of a failed job's evidence, found by job id, attempt and a name from the fixed list: no path
    typed by anyone is ever opened. Saved pages are sent as text to download, never shown as this site's pages."""
    job_id, number, name = request.path_params["job"], request.path_params["number"], request.path_params["name"]
    try:
        content = failed.evidence_file(web.ctx.jobs, store_for(web.settings, web.ctx.db), job_id, number, name)
    except RedisError:
        return web.message(request, 503, "Job queue unavailable", REDIS_DOWN)
    if content is None:
        return web.message(request, 404, "Not found", "There is no such evidence file for a failed job.")
    inline = name == "screenshot.png"
    filename = f"{job_id}-{number}-{name}" + ("" if name.endswith((".png", ".zip", ".txt")) else ".txt")
    disposition = "inline" if inline else "attachment"
    return Response(  # the job id is [A-Za-z0-9_-] and the name from the fixed list: nothing to quote
        content,
        media_type=failed.EVIDENCE_FILES[name],
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )


# Paused portals


def _resume_portal(web: Web, request: Request) -> Response:
    from tasks.submit import resume_portal  # the submission task's own resume: the CLI uses it too

    name = request.path_params["portal"]
    if name not in portal_names():
        return web.message(request, 404, "No such portal", "There is no partner portal by that name. Nothing changed.")
    try:
        requeued = resume_portal(name, actor=request.state.signed.user.username, ctx=web.ctx)
    except RedisError:
        return web.message(request, 503, "Job queue unavailable", REDIS_DOWN)
    return web.message(
        request,
        200,
        "Portal resumed",
        f"{name} is resumed: {requeued} waiting submission{'' if requeued == 1 else 's'} queued to send. If its "
        "pages still do not match what the bot expects, it pauses again by itself and the banner comes back.",
    )


def routes(web: Web) -> list[Route]:
    return [
        Route("/admin/users", page(web, _users, "admin"), methods=["GET"]),
        Route("/admin/users", page(web, _add, "admin"), methods=["POST"]),
        Route("/admin/users/{username}/disable", page(web, _disable, "admin"), methods=["POST"]),
        Route("/admin/users/{username}/enable", page(web, _enable, "admin"), methods=["POST"]),
        Route("/admin/users/{username}/password", page(web, _password, "admin"), methods=["GET"]),
        Route("/admin/users/{username}/password", page(web, _set_password, "admin"), methods=["POST"]),
        Route("/admin/failed-jobs", page(web, _failed_jobs, "admin")),
        Route("/admin/failed-jobs/replay", page(web, _replay_jobs, "admin"), methods=["POST"]),
        Route("/admin/failed-jobs/{job}", page(web, _show_failed, "admin"), methods=["GET"]),
        Route("/admin/failed-jobs/{job}/discard", page(web, _discard, "admin"), methods=["POST"]),
        Route(
            "/admin/failed-jobs/{job}/evidence/{number:int}/{name}",
            page(web, _evidence, "admin"),
            methods=["GET"],
        ),
        Route("/admin/portals/{portal}/resume", page(web, _resume_portal, "admin"), methods=["POST"]),
    ]
