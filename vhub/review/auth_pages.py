"""Signing in and out of the review app.

The sign-in form carries a CSRF token bound to a cookie set before sign-in; a successful sign-in always
starts a new session. Every refusal looks the same (an unknown name, a wrong password, a disabled or paused
account, a paused client address), so the answer never tells whether an account exists. A single-sign-on
provider (OIDC) would replace ``login`` only: it would call ``start_session`` for the user its identity token
names; roles and everything after stay as they are.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from vhub.models import hidden_characters
from vhub.review.accounts import authenticate, end_session, start_session
from vhub.review.throttle import AddressThrottle, address_digest
from vhub.review.web import SESSION_COOKIE, SIGN_IN_COOKIE, Web, page, tokens_match
from vhub.store.audit import record_event
from vhub.store.tables import utcnow

REFUSED = (
    "That name and password do not match an account that can sign in, or sign-in is paused for a while after "
    "repeated failures. Check them and try again later, or ask an administrator."
)
EXPIRED = "The sign-in form had expired. Please sign in again."


def _safe_next(target: str | None) -> str:
    """Only a path on this site may follow sign-in (never another host, nothing with a control character)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or hidden_characters(target)
        or urlparse(target).netloc
    ):
        return "/queue"
    return target


def _form(web: Web, request: Request, error: str | None = None, username: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    request.state.sign_in_token = token
    response = web.render(
        request,
        "review/login.html.j2",
        status=status,
        error=error,
        username=username,
        next=_safe_next(request.query_params.get("next")),
    )
    response.set_cookie(
        SIGN_IN_COOKIE, token, httponly=True, samesite="strict", secure=web.settings.review_https, path="/login"
    )
    return response


def routes(web: Web) -> list[Route]:
    throttle = AddressThrottle(web.settings.review_address_lock_after_failures, web.settings.review_lock_minutes)

    async def login_form(request: Request) -> Response:
        return _form(web, request)

    async def login(request: Request) -> Response:
        form = await request.form()
        if not tokens_match(request.cookies.get(SIGN_IN_COOKIE), form.get("csrf_token")):
            return _form(web, request, EXPIRED, status=403)
        username = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        address = request.client.host if request.client else ""
        landing: list[str] = []  # the signed-in account's own first page: the queue, or an auditor's audits

        def check() -> str | None:
            settings, now = web.settings, utcnow()
            address_paused = throttle.paused(address)
            _, user = authenticate(
                web.ctx.db,
                username,
                password,
                now=now,
                lock_after=settings.review_lock_after_failures,
                lock_minutes=settings.review_lock_minutes,
                refuse=address_paused,
            )
            if user is not None:
                landing.append("/referral-audits" if not user.can_review else "/queue")
                with web.ctx.db.session() as session:
                    return start_session(session, user, now=now)[0]
            if not address_paused and throttle.failed(address):
                with web.ctx.db.session() as session:
                    record_event(
                        session,
                        actor="sign-in",
                        action="sign_in.address_paused",
                        entity_type="client_address",
                        entity_id=address_digest(address),
                        after={"until": (now + timedelta(seconds=throttle.seconds)).isoformat()},
                    )
            return None

        token = await run_in_threadpool(check)  # argon2 takes a moment: not on the event loop
        if token is None:
            # A name with a control character (no account has one) is not put back in the form.
            return _form(web, request, REFUSED, username="" if hidden_characters(username) else username, status=401)
        target = _safe_next(str(form.get("next") or ""))
        response = RedirectResponse(landing[0] if target == "/queue" else target, status_code=303)
        web.set_session_cookie(response, token)
        response.delete_cookie(SIGN_IN_COOKIE, path="/login")
        return response

    def logout(web: Web, request: Request) -> Response:
        with web.ctx.db.session() as session:
            end_session(session, request.cookies.get(SESSION_COOKIE), now=utcnow())
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", page(web, logout, "anyone"), methods=["POST"]),
    ]
