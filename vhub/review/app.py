"""The review app: where VHub staff approve, edit or reject what the bots drafted.

Server-rendered pages from the project's Jinja environment; every core action is a plain form post, so
nothing needs JavaScript (the dashboard's live refresh is the one script, served from here).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vhub import context
from vhub.context import AppContext
from vhub.review import (
    admin_pages,
    audit_pages,
    auth_pages,
    dashboard_pages,
    data_quality_pages,
    draft_pages,
    queue_pages,
    referral_audit_pages,
)
from vhub.review.web import SecurityHeaders, Web, security_headers
from vhub.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"
# The answer to a failure when even the page template cannot be rendered.
PLAIN_ERROR = (
    '<!doctype html><html lang="en-GB"><title>Something went wrong</title><h1>Something went wrong</h1>'
    "<p>The review app hit a problem. Go back and try again; if it happens again, tell an administrator.</p></html>"
)


def create_app(settings: Settings, ctx: AppContext | None = None) -> Starlette:
    web = Web(ctx or context.configure(settings))

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        return web.message(request, 404, "Not found", "There is nothing at this address. Go back to the queue.")

    async def server_error(request: Request, exc: Exception) -> Response:
        """A plain page that says nothing of the exception (the server logs it). Starlette sends this answer
        from outside every middleware, so the security headers are added here."""
        try:
            response: Response = web.message(
                request,
                500,
                "Something went wrong",
                "The review app hit a problem, and what you were doing may not have been saved. Go back and try "
                "again; if it happens again, tell an administrator the time it happened.",
            )
        except Exception:  # the template itself may be what failed
            response = HTMLResponse(PLAIN_ERROR, status_code=500)
        response.headers.update(security_headers(request.url.path))
        return response

    routes = [
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *auth_pages.routes(web),
        *queue_pages.routes(web),  # before draft_pages, whose older /queue it replaces
        *draft_pages.routes(web),
        *data_quality_pages.routes(web),
        *dashboard_pages.routes(web),
        *audit_pages.routes(web),
        *admin_pages.routes(web),
        *referral_audit_pages.routes(web),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, Exception: server_error},
    )
