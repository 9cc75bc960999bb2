"""Who may do what in the review app: one table of every route against every kind of visitor, and the
sign-in protections (CSRF, session fixation, idle expiry, throttling, headers, cookie flags)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from starlette.routing import Mount, Route

from tests.review.support import ACCOUNTS, PASSWORD, ReviewApp
from vhub.portals import portal_names
from vhub.review import auth_pages, web
from vhub.store.tables import AuditEventRow, DraftRow, UserRow, utcnow

ROLES = ("anonymous", "reviewer", "admin", "disabled")

# (method, route path) -> expected status for (anonymous, reviewer, admin, disabled). "disabled" is a person
# whose account was disabled after they signed in: their session no longer counts. POST /login posts that
# visitor's own credentials (the anonymous visitor has no account).
TABLE: dict[tuple[str, str], tuple[int, int, int, int]] = {
    ("GET", "/"): (303, 303, 303, 303),
    ("GET", "/healthz"): (200, 200, 200, 200),
    ("GET", "/login"): (200, 200, 200, 200),
    ("POST", "/login"): (401, 303, 303, 401),
    ("POST", "/logout"): (401, 303, 303, 401),
    ("GET", "/queue"): (303, 200, 200, 303),
    ("GET", "/queue/next"): (303, 303, 303, 303),  # signed in: on to the next item, or back to the queue
    ("POST", "/queue/search"): (401, 303, 303, 401),
    ("POST", "/queue/assign"): (401, 303, 303, 401),
    ("POST", "/queue/bulk"): (401, 200, 200, 401),
    ("POST", "/queue/export"): (401, 200, 200, 401),
    ("GET", "/drafts/{draft_id:id}/reopen"): (303, 200, 200, 303),
    ("POST", "/drafts/{draft_id:id}/reopen"): (401, 409, 409, 401),
    ("GET", "/drafts/{draft_id:id}"): (303, 200, 200, 303),
    ("POST", "/drafts/{draft_id:id}/decide"): (401, 303, 303, 401),
    ("GET", "/data-quality/{item_id:id}"): (303, 200, 200, 303),
    ("POST", "/data-quality/{item_id:id}/resolve"): (401, 303, 303, 401),
    ("GET", "/dashboard"): (303, 200, 200, 303),
    ("GET", "/dashboard/data"): (303, 200, 200, 303),
    ("GET", "/dashboard/fragment"): (303, 200, 200, 303),
    ("GET", "/audit"): (303, 403, 200, 303),
    ("GET", "/audit.csv"): (303, 403, 200, 303),
    ("GET", "/admin/users"): (303, 403, 200, 303),
    ("POST", "/admin/users"): (401, 403, 303, 401),
    ("POST", "/admin/users/{username}/disable"): (401, 403, 303, 401),
    ("GET", "/admin/failed-jobs"): (303, 403, 200, 303),
    ("POST", "/admin/failed-jobs/replay"): (401, 403, 303, 401),
    ("POST", "/admin/users/{username}/enable"): (401, 403, 303, 401),
    ("GET", "/admin/users/{username}/password"): (303, 403, 200, 303),
    ("POST", "/admin/users/{username}/password"): (401, 403, 303, 401),
    # {job} is not a failed job here: an admin is told so (404), anyone else is refused before it is looked up.
    ("GET", "/admin/failed-jobs/{job}"): (303, 403, 404, 303),
    ("POST", "/admin/failed-jobs/{job}/discard"): (401, 403, 404, 401),
    ("GET", "/admin/failed-jobs/{job}/evidence/{number:int}/{name}"): (303, 403, 404, 303),
    ("POST", "/admin/portals/{portal}/resume"): (401, 403, 200, 401),
    # The referral audits: an admin may audit; {sampled_id} names no sampled referral here (404 once let in).
    ("GET", "/referral-audits"): (303, 403, 200, 303),
    ("GET", "/referral-audits/{sampled_id:id}"): (303, 403, 404, 303),
    ("POST", "/referral-audits/{sampled_id:id}"): (401, 403, 404, 401),
    ("GET", "/static/review.css"): (200, 200, 200, 200),
    ("GET", "/static/dashboard.js"): (200, 200, 200, 200),
    ("GET", "/static/draft.js"): (200, 200, 200, 200),
}
CASES = [
    pytest.param(method, path, role, expected, id=f"{method} {path} {role}")
    for (method, path), statuses in TABLE.items()
    for role, expected in zip(ROLES, statuses, strict=True)
]
# What each POST sends besides the CSRF token: a real, harmless request of its kind.
BODIES = {
    "/logout": {},
    "/queue/search": {"q": "OCC/26"},
    "/queue/assign": {"item": "draft:{draft_id}"},
    "/queue/bulk": {"action": "assign", "item": "draft:{draft_id}:1", "owner": "nobody"},
    "/queue/export": {},
    "/drafts/{draft_id:id}/reopen": {"row_version": "1", "note": "The school was corrected."},  # not returned: 409
    "/drafts/{draft_id:id}/decide": {"action": "save", "row_version": "1"},
    "/data-quality/{item_id:id}/resolve": {"action": "dismiss", "note": "Checked with the records team."},
    "/admin/users": {
        "username": "new.reviewer",
        "display_name": "New Reviewer",
        "role": "reviewer",
        "password": PASSWORD,
        "password_again": PASSWORD,
    },
    "/admin/users/{username}/disable": {},
    "/admin/failed-jobs/replay": {"all": "yes"},
    "/admin/users/{username}/enable": {},
    "/admin/users/{username}/password": {
        "password": "a new synthetic passphrase",
        "password_again": "a new synthetic passphrase",
    },
    "/admin/failed-jobs/{job}/discard": {"reason": "Checked by hand."},
    "/admin/portals/{portal}/resume": {},
    "/referral-audits/{sampled_id:id}": {"completeness": "3", "accuracy": "4", "proportionality": "3", "comment": ""},
}
PERSONAL = ("/queue", "/drafts", "/data-quality", "/dashboard", "/audit", "/admin")


def url(path: str, review: ReviewApp) -> str:
    values = {
        "draft_id": review.ids["draft"],
        "item_id": review.ids["item"],
        "username": ACCOUNTS["second"][0],
        "job": "not-a-failed-job",
        "number": 1,
        "name": "screenshot.png",
        "portal": portal_names()[0],
        "sampled_id": 4242,
    }
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda match: str(values[match.group(1)]), path)


@pytest.mark.parametrize(("method", "path", "role", "expected"), CASES)
def test_who_may_do_what(review_app: ReviewApp, method: str, path: str, role: str, expected: int) -> None:
    """Each route answers each kind of visitor as the table says; signed-out visitors are sent to sign in."""
    visitor = review_app.visitor(role)
    if method == "GET":
        response = visitor.client.get(url(path, review_app))
    elif path == "/login":
        response = review_app.sign_in(visitor.client, ACCOUNTS[role][0] if role in ACCOUNTS else "nobody.here")
    else:
        body = {name: url(value, review_app) for name, value in BODIES[path].items()}
        response = visitor.client.post(url(path, review_app), data={"csrf_token": visitor.csrf, **body})
    assert expected == response.status_code
    if expected == 303 and method == "GET" and path != "/" and role in ("anonymous", "disabled"):
        assert f"/login?next={url(path, review_app)}" == response.headers["location"]


def test_every_route_is_in_the_table(review_app: ReviewApp) -> None:
    """The table covers every route and method the app serves (a new page cannot ship unchecked), and no more."""
    served: set[tuple[str, str]] = set()
    mounts = []
    for route in review_app.app.routes:
        if isinstance(route, Mount):
            mounts.append(route.path + "/")
        else:
            assert isinstance(route, Route)
            served |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    in_table = {key for key in TABLE if not key[1].startswith(tuple(mounts))}
    mounted = {mount for mount in mounts if any(path.startswith(mount) for _, path in TABLE)}
    assert (served, set(mounts)) == (in_table, mounted)


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(review_app: ReviewApp) -> None:
    """A state-changing post whose CSRF token is missing or wrong gets 403 and changes nothing."""
    admin = review_app.visitor("admin")
    with review_app.db.session() as session:
        events = session.scalar(select(func.count(AuditEventRow.id)))
    refused = [
        admin.client.post("/admin/users", data={**BODIES["/admin/users"], "csrf_token": "forged"}).status_code,
        admin.client.post(
            f"/drafts/{review_app.ids['draft']}/decide", data={"action": "reject", "reason": "x", "row_version": "1"}
        ).status_code,
        admin.client.post(f"/admin/users/{ACCOUNTS['second'][0]}/disable", data={"csrf_token": ""}).status_code,
    ]
    assert [403, 403, 403] == refused
    with review_app.db.session() as session:
        assert None is session.scalar(select(UserRow.id).where(UserRow.username == "new.reviewer"))
        assert ("awaiting_review", 1) == tuple(
            session.execute(
                select(DraftRow.status, DraftRow.row_version).where(DraftRow.id == review_app.ids["draft"])
            ).one()
        )
        assert [False] == list(session.scalars(select(UserRow.disabled).where(UserRow.username == "sam.reviewer")))
        assert events == session.scalar(select(func.count(AuditEventRow.id)))


def test_signing_in_replaces_a_planted_session_cookie(review_app: ReviewApp) -> None:
    """A session cookie set before sign-in is not the one after, and the planted value signs nobody in."""
    client = review_app.client()
    client.cookies.set(web.SESSION_COOKIE, "planted-by-someone-else", domain="testserver.local")
    assert 303 == review_app.sign_in(client, ACCOUNTS["reviewer"][0]).status_code
    assert "planted-by-someone-else" != client.cookies.get(web.SESSION_COOKIE)
    attacker = review_app.client()
    attacker.cookies.set(web.SESSION_COOKIE, "planted-by-someone-else", domain="testserver.local")
    answer = attacker.get("/queue")
    assert (303, "/login?next=/queue") == (answer.status_code, answer.headers["location"])
    assert 200 == client.get("/queue").status_code


def test_an_idle_session_ends(review_app: ReviewApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """After review_idle_minutes without a request, the next request finds the person signed out."""
    reviewer = review_app.visitor("reviewer")
    assert 200 == reviewer.client.get("/queue").status_code
    later = utcnow() + timedelta(minutes=review_app.ctx.settings.review_idle_minutes + 1)
    monkeypatch.setattr(web, "utcnow", lambda: later)
    assert 303 == reviewer.client.get("/dashboard").status_code
    monkeypatch.undo()
    assert (303, 401) == (
        reviewer.client.get("/queue").status_code,
        reviewer.client.post("/logout", data={"csrf_token": reviewer.csrf}).status_code,
    )


def test_repeated_wrong_passwords_pause_the_account(review_app: ReviewApp) -> None:
    """After review_lock_after_failures wrong passwords even the right one is refused, and the pause is audited."""
    client = review_app.client()
    username = ACCOUNTS["reviewer"][0]
    attempts = review_app.ctx.settings.review_lock_after_failures
    statuses = [review_app.sign_in(client, username, "wrong-password-123").status_code for _ in range(attempts)]
    assert [401] * attempts == statuses
    right = review_app.sign_in(client, username)
    assert 401 == right.status_code
    assert auth_pages.REFUSED in right.text
    assert 303 == review_app.client().get("/queue").status_code
    with review_app.db.session() as session:
        assert [username] == list(
            session.scalars(select(AuditEventRow.entity_id).where(AuditEventRow.action == "user.paused"))
        )


def test_every_page_sends_the_security_headers(review_app: ReviewApp) -> None:
    """Every page forbids inline script and framing; pages with personal data are never cached."""
    admin = review_app.visitor("admin")
    problems = []
    for method, path in TABLE:
        if method != "GET":
            continue
        response = admin.client.get(url(path, review_app))
        policy = response.headers.get("content-security-policy", "")
        if "'unsafe-inline'" in policy or "frame-ancestors 'none'" not in policy or "script-src 'self'" not in policy:
            problems.append((path, "content-security-policy"))
        if response.headers.get("x-content-type-options") != "nosniff":
            problems.append((path, "x-content-type-options"))
        if path.startswith(PERSONAL) and response.headers.get("cache-control") != "no-store":
            problems.append((path, "cache-control"))
    assert [] == problems


@pytest.mark.parametrize(("https", "secure"), [(False, False), (True, True)])
def test_the_session_cookie_is_http_only_strict_and_secure_over_https(
    make_app: object, https: bool, secure: bool
) -> None:
    """The session cookie is HttpOnly and SameSite=strict, and Secure when review_https is on."""
    review = make_app(review_https=https)  # type: ignore[operator]
    response = review.sign_in(review.client(f"{'https' if https else 'http'}://testserver"), ACCOUNTS["reviewer"][0])
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(web.SESSION_COOKIE + "="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert (True, True, secure) == ("httponly" in flags, "samesite=strict" in flags, "secure" in flags)
