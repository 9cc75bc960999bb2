"""Dashboard, audit and admin pages (being built)."""

from __future__ import annotations

from starlette.routing import Route

from vhub.review.web import Web


def routes(web: Web) -> list[Route]:
    return []
