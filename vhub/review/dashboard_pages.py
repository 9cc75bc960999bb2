"""The dashboard: the figures for everyone signed in, refreshed by the page itself without keeping a session alive."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vhub.review import dashboard
from vhub.review.queue import TYPES
from vhub.review.web import Web, page
from vhub.store.tables import utcnow


def _figures(web: Web) -> dashboard.Figures:
    with web.ctx.db.session(read_only=True) as session:
        figures = dashboard.compute(session, utcnow())
    return replace(figures, queues=dashboard.queue_figures(web.ctx.jobs))  # Redis outside the transaction


def _detail_values(figures: dashboard.Figures) -> dict[str, Any]:
    return {
        "figures": figures,
        "risks": dashboard.RISKS,
        "types": TYPES,
        "status_name": dashboard.status_name,
        "authority_name": dashboard.authority_name,
    }


def _dashboard_page(web: Web, request: Request) -> Response:
    figures = _figures(web)
    return web.render(
        request,
        "review/dashboard.html.j2",
        headline=dashboard.headline(figures),
        idle_minutes=web.settings.review_idle_minutes,
        **_detail_values(figures),
    )


def _dashboard_data(web: Web, request: Request) -> Response:
    return JSONResponse(dashboard.as_json(_figures(web)))


def _dashboard_fragment(web: Web, request: Request) -> Response:
    return web.render(request, "review/_dashboard_detail.html.j2", **_detail_values(_figures(web)))


def routes(web: Web) -> list[Route]:
    return [
        Route("/dashboard", page(web, _dashboard_page)),
        Route("/dashboard/data", page(web, _dashboard_data, touch=False)),
        Route("/dashboard/fragment", page(web, _dashboard_fragment, touch=False)),
    ]
