"""The review app: where VHub staff approve, edit or reject what the bots drafted.

Server-rendered pages from the project's Jinja environment; every core action is a plain form post, so
nothing needs JavaScript (the dashboard's live refresh is the one script, served from here).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from vhub import context
from vhub.context import AppContext
from vhub.review import admin_pages, audit_pages, auth_pages, dashboard_pages, data_quality_pages, draft_pages
from vhub.review.web import SecurityHeaders, Web
from vhub.settings import Settings

STATIC = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings, ctx: AppContext | None = None) -> Starlette:
    web = Web(ctx or context.configure(settings))

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_found(request: Request, exc: Exception) -> Response:
        return web.message(request, 404, "Not found", "There is nothing at this address. Go back to the queue.")

    routes = [
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *auth_pages.routes(web),
        *draft_pages.routes(web),
        *data_quality_pages.routes(web),
        *dashboard_pages.routes(web),
        *audit_pages.routes(web),
        *admin_pages.routes(web),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)], exception_handlers={404: not_found})
