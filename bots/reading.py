"""Reading a page without the browser: fetched through the signed-in context's request API and read from its
HTML with the page's own locators; the browser reads it instead whenever the HTML cannot be read as Chromium would.

The browser stays for signing in, forms, and pages with a locator marked ``script``. The first read of each
page in a session, and every ``CHECK_EVERY``-th after it, is read both ways and the two must agree; a page
that reads differently is read in the browser for the rest of the session, with a warning naming the fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from bots.locators import NeedsBrowser, extract_html
from bots.portal import PortalPage
from vhub.browser import BrowserSession
from vhub.errors import SelectorDrift, SystemUnavailable
from vhub.logs import get_logger

CHECK_EVERY = 250
"""Reads of one page between two checks that the HTML reads as the browser does (about 0.3 ms a read)."""

_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)
log = get_logger(__name__)


@dataclass
class _Tally:
    """How one page of a system has read in this session."""

    reads: int = 0
    browser_only: bool = False


@dataclass(frozen=True)
class Fetched:
    url: str
    body: bytes
    encoding: str | None  # from the Content-Type header; None lets the parser find it in the page


def fetch(session: BrowserSession, page: PortalPage, url: str) -> Fetched:
    """GET a page of the system with the session's cookies, checked as ``page.open_url`` checks a navigation:
    SystemUnavailable for a time-out or server error, SessionExpired for a bounce to the sign-in page."""
    full = page.absolute(url)
    try:
        response = session.request.get(full, timeout=session.settings.browser_timeout_s * 1000)
    except PlaywrightError as error:  # a time-out is one too
        reason = str(error).split("\n", 1)[0][:120]
        raise SystemUnavailable(f"The {page.system_name} could not be reached ({reason}).") from None
    try:
        body = response.body()
        status, landed, content_type = response.status, response.url, response.headers.get("content-type", "")
    finally:
        response.dispose()  # else the driver keeps every body until the context closes
    session.fetched(full, body)
    page.landed(status, landed)
    charset = _CHARSET.search(content_type)
    return Fetched(full, body, charset.group(1) if charset else None)


def read_in_browser(session: BrowserSession, page: PortalPage, url: str) -> dict[str, Any]:
    session.use_page()
    page.open_url(url)
    return page.read()


def read_page(session: BrowserSession, page: PortalPage, url: str) -> dict[str, Any]:
    """What ``page.read()`` gives after ``page.open_url(url)``, read from the page's HTML when it can be."""
    name = page.locators.name
    tally: _Tally = session.kept.setdefault("reads", {}).setdefault(name, _Tally())
    if tally.browser_only or page.locators.needs_script:
        return read_in_browser(session, page, url)
    fetched = fetch(session, page, url)
    try:
        data = extract_html(fetched.body, page.locators, encoding=fetched.encoding)
    except NeedsBrowser as reason:
        log.info("page read in the browser", system=session.system, page=name, reason=str(reason))
        return read_in_browser(session, page, url)
    except SelectorDrift as drift:
        seen = read_in_browser(session, page, url)  # raises SelectorDrift itself when the page has really changed
        _read_differently(session, name, tally, [f"{drift.locator} (matched {drift.matched} in the HTML)"])
        return seen
    tally.reads += 1
    if tally.reads % CHECK_EVERY == 1:
        seen = read_in_browser(session, page, url)
        if differences := _differences(seen, data):
            _read_differently(session, name, tally, differences)
            return seen
    return data


def _read_differently(session: BrowserSession, name: str, tally: _Tally, fields: list[str]) -> None:
    tally.browser_only = True
    log.warning(
        "page reads differently without the browser; reading it in the browser from now on",
        system=session.system,
        page=name,
        fields=fields[:10],
    )


def _differences(browser: dict[str, Any], html: dict[str, Any]) -> list[str]:
    """Where two reads of a page differ, by field (never by value: values are personal data)."""
    found = [f"values.{key}" for key in browser["values"] if browser["values"][key] != html["values"].get(key)]
    for group, rows in browser["groups"].items():
        other = html["groups"].get(group, [])
        if len(rows) != len(other):
            found.append(f"groups.{group} ({len(rows)} rows in the browser, {len(other)} in the HTML)")
            continue
        found += [
            f"groups.{group}[{index}].{key}"
            for index, (row, twin) in enumerate(zip(rows, other, strict=True))
            for key in row
            if row[key] != twin.get(key)
        ]
    return found
