"""The review app's web plumbing: sign-in state, roles, CSRF, security headers, record ids, rendering.

Handlers are plain functions run in a thread (the store is synchronous); ``page(role)`` wraps them: it
resumes the session from its cookie, sends anonymous visitors to sign in, refuses the wrong role, and
refuses any state-changing request whose CSRF token does not match the session's.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.convertors import register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vhub.context import AppContext
from vhub.drafting.environment import environment
from vhub.models import hidden_characters
from vhub.portals import paused_of, portal_names
from vhub.review.accounts import SignedIn, resume_session, resuming_changes
from vhub.review.record_ids import IdConvertor
from vhub.store.tables import utcnow

SESSION_COOKIE = "vhub_session"
SIGN_IN_COOKIE = "vhub_sign_in"
HIDDEN_CHARACTER = (
    "What you sent contains a hidden control character (such as a NUL byte, which copying from some programs "
    "carries in), in: {where}. VHub cannot keep it, so nothing was changed. Go back, retype that text and try again."
)
_FIELD_WORDS = {"q": "the search", "text": "the text", "reason": "the reason", "note": "the note"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


_REFUSED = {
    "admin": "This page is for administrators. Ask an administrator if you need something from it.",
    "reviewer": "This page is for VHub's reviewers. Your account reaches the referral audits only: go to "
    "/referral-audits.",
    "auditor": "This page is for the referral quality auditors. Go back to the queue.",
}

register_url_convertor("id", IdConvertor())


def security_headers(path: str) -> dict[str, str]:
    """No inline script, no framing, no sniffing, no referrer; no caching except of static files."""
    return {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "cache-control": "public, max-age=3600" if path.startswith("/static/") else "no-store",
    }


class SecurityHeaders:
    """Adds ``security_headers`` to every answer that passes through the app. Starlette's answer to an
    unhandled exception is sent from outside every middleware, so the app's 500 handler adds them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(name.encode(), value.encode()) for name, value in security_headers(scope["path"]).items()]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def hidden_in(request: Request) -> list[str]:
    """Where the address or the form holds a control character other than a line break or tab ("the address", or
    a form field by its name in words): PostgreSQL cannot keep a NUL, and none belongs in anything a person types,
    so it is refused before any handler sees it. Never the value itself."""

    def hidden(*texts: Any) -> bool:
        return any(isinstance(text, str) and hidden_characters(text, layout=True) for text in texts)

    query = [text for pair in request.query_params.multi_items() for text in pair]
    where = ["the address"] if hidden(*request.path_params.values(), *query) else []
    form = getattr(request.state, "form", None)
    for name, value in form.multi_items() if form is not None else []:
        words = _FIELD_WORDS.get(name) or re.sub(r"\[\d+\]", "", name).rsplit(".", 1)[-1].replace("_", " ")[:60]
        label = "a field" if hidden(words) else words
        if hidden(name, value) and label not in where:
            where.append(label)
    return where


def tokens_match(expected: str | None, given: Any) -> bool:
    if not expected or not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass
class Web:
    """What handlers need: the app context and how to render a page."""

    ctx: AppContext

    @property
    def settings(self) -> Any:
        return self.ctx.settings

    def render(self, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        signed: SignedIn | None = getattr(request.state, "signed", None)
        html = (
            environment()
            .get_template(template)
            .render(
                user=signed.user if signed else None,
                csrf_token=signed.csrf_token if signed else getattr(request.state, "sign_in_token", ""),
                path=request.url.path,
                paused_portals=self.paused_portals,
                **values,
            )
        )
        # A value read from a source may hold half of a UTF-16 pair, which no page can carry: it is sent as "?"
        # rather than failing the page that shows it.
        return HTMLResponse(html.encode("utf-8", "replace"), status_code=status)

    def paused_portals(self) -> dict[str, str] | None:
        """Each paused portal and why, for the banner of the pages that include it; None if Redis cannot say."""
        try:
            return paused_of(self.ctx.jobs.connection, sorted(portal_names()))
        except (RedisError, ValueError):  # unreachable, or no Redis configured at all
            return None

    def message(self, request: Request, status: int, title: str, text: str) -> HTMLResponse:
        return self.render(request, "review/message.html.j2", status=status, title=title, text=text)

    def signed_in(self, request: Request, touch: bool = True) -> SignedIn | None:
        token, now, idle = request.cookies.get(SESSION_COOKIE), utcnow(), self.settings.review_idle_minutes
        # Most requests change nothing about their session: those do not wait for (or take) the write lock.
        with self.ctx.db.session(read_only=True) as session:
            if not resuming_changes(session, token, now=now, idle_minutes=idle, touch=touch):
                return resume_session(session, token, now=now, idle_minutes=idle, touch=touch)
        with self.ctx.db.session() as session:
            return resume_session(session, token, now=now, idle_minutes=idle, touch=touch)

    def set_session_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE, token, httponly=True, samesite="strict", secure=self.settings.review_https, path="/"
        )

    def sign_in_token(self, request: Request) -> str:
        """The CSRF token of the sign-in form, bound to a cookie set before anyone signs in."""
        return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)


Handler = Callable[[Web, Request], Response]


def page(web: Web, handler: Handler, role: str = "reviewer", *, touch: bool = True) -> Callable[[Request], Any]:
    """Wrap a handler with sign-in, role and CSRF checks. ``role``: reviewer (the queue and everything about drafts:
    reviewers and admins), admin, auditor (the referral audits) or anyone (signed in). ``touch=False`` for requests
    a page makes by itself (the dashboard's refresh), which must not keep an unattended session alive."""

    async def endpoint(request: Request) -> Response:
        signed = await run_in_threadpool(functools.partial(web.signed_in, request, touch=touch))
        if signed is None:
            if request.method == "GET":
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            return web.message(
                request,
                401,
                "Signed out",
                "Your session has ended. Sign in again, then repeat what you were doing: nothing was changed.",
            )
        request.state.signed = signed
        if not signed.user.may(role):
            return web.message(request, 403, "Not allowed", _REFUSED.get(role, _REFUSED["reviewer"]))
        if request.method == "POST":
            form = await request.form()
            if not tokens_match(signed.csrf_token, form.get("csrf_token")):
                return web.message(
                    request,
                    403,
                    "Form expired",
                    "This form is out of date or did not come from "
                    "this site. Go back, reload the page and try again: nothing was changed.",
                )
            request.state.form = form
        if where := hidden_in(request):
            return web.message(request, 422, "Hidden character", HIDDEN_CHARACTER.format(where=", ".join(where)))
        return await run_in_threadpool(handler, web, request)

    return endpoint
