"""Launching Chromium, and a browser session that bots reuse across items.

One launcher for bots and tests alike: the system Chromium with the flags that keep it quiet on a
closed network, or Playwright's bundled build, as the settings say. A session keeps one browser and
one context for many items, renews the context every ``browser_recycle_every`` items, traces each item
in its own chunk and, when an item fails, keeps a screenshot, the page and the trace as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from vhub.logs import get_logger
from vhub.settings import Settings

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

log = get_logger(__name__)


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch`` (also used by the test suite)."""
    options: dict[str, Any] = {"headless": settings.browser_headless, "args": list(CHROMIUM_ARGS)}
    if settings.chromium_path:
        options["executable_path"] = settings.chromium_path
    return options


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label)[:80]


class _Driver:
    """The process's one Playwright and one Chromium: Playwright's sync API allows one per thread, so
    every system's session shares them, each with a context of its own."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def browser(self, settings: Settings) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            if self._playwright is None:
                self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(**launch_options(settings))
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            try:
                self._browser.close()
            except Exception:  # noqa: BLE001 - the browser may have died with its process
                log.debug("browser already closed")
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None


_driver = _Driver()


class BrowserSession:
    """One context for a system in the process's Chromium, reused across items and renewed every N."""

    def __init__(self, settings: Settings, system: str, browser: Browser | None = None) -> None:
        """``browser``: use this already launched browser (tests share pytest-playwright's); without one,
        the process's shared Chromium is used (launched on first use)."""
        self.settings = settings
        self.system = system
        self._given_browser = browser
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self.items_in_context = 0
        self.contexts_opened = 0
        self.state: dict[str, Any] = {}
        """What a bot knows about the current context (such as being signed in); cleared with it."""

    @property
    def page(self) -> Page:
        if self._page is None or self._page.is_closed():
            self._open_context()
        assert self._page is not None
        return self._page

    @property
    def is_fresh(self) -> bool:
        """True when the current context has not yet served an item (so it has no session cookie)."""
        return self._context is None or self.items_in_context == 0

    def _open_context(self) -> None:
        browser = self._given_browser or _driver.browser(self.settings)
        self._close_context()
        self._context = browser.new_context(locale="en-GB", timezone_id=self.settings.timezone)
        self._context.set_default_timeout(self.settings.browser_timeout_s * 1000)
        snapshots = self.settings.browser_trace_snapshots
        self._context.tracing.start(screenshots=snapshots, snapshots=snapshots)
        self._page = self._context.new_page()
        self.state = {}
        self.items_in_context = 0
        self.contexts_opened += 1

    def _close_context(self) -> None:
        if self._context is not None:
            try:
                self._context.close()
            except Exception:  # noqa: BLE001 - a dead context is closed already
                log.debug("context already closed", system=self.system)
        self._context = None
        self._page = None

    @contextmanager
    def item(self, label: str) -> Iterator[Page]:
        """Work on one item. On failure keep the evidence, renew the context and re-raise."""
        if self._context is not None and self.items_in_context >= self.settings.browser_recycle_every:
            self._open_context()
        page = self.page
        assert self._context is not None
        self._context.tracing.start_chunk(title=label)
        try:
            yield page
        except BaseException:
            self.save_evidence(label)
            self._open_context()
            raise
        else:
            if self.settings.keep_success_evidence:
                self.save_evidence(label, outcome="success")
            else:
                self._context.tracing.stop_chunk()
            self.items_in_context += 1

    def save_evidence(self, label: str, outcome: str = "failure") -> Path | None:
        """Screenshot, page HTML and Playwright trace of the current item, in the evidence folder."""
        context = structlog.contextvars.get_contextvars()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        folder = (
            self.settings.evidence_dir
            / self.system
            / _safe(f"{stamp}-{outcome}-{context.get('job_id', 'no-job')}-{label}")
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if self._page is not None and not self._page.is_closed():
                self._page.screenshot(path=str(folder / "screenshot.png"), full_page=True, timeout=10_000)
                (folder / "page.html").write_text(self._page.content(), encoding="utf-8")
            if self._context is not None:
                self._context.tracing.stop_chunk(path=str(folder / "trace.zip"))
        except Exception as error:  # noqa: BLE001 - evidence is best effort; the original error matters
            log.warning("evidence incomplete", system=self.system, evidence=str(folder), error=type(error).__name__)
            return folder
        log.info("evidence saved", system=self.system, outcome=outcome, evidence=str(folder))
        return folder

    def close(self) -> None:
        """Close this session's context (the shared browser stays for the process's other sessions)."""
        self._close_context()


_sessions: dict[str, BrowserSession] = {}


def session_for(settings: Settings, system: str) -> BrowserSession:
    """The process's session for a system, created on first use (workers keep them between jobs)."""
    if system not in _sessions:
        _sessions[system] = BrowserSession(settings, system)
    return _sessions[system]


def close_all() -> None:
    """Close every session and the process's browser (a worker calls this when it stops)."""
    while _sessions:
        _, session = _sessions.popitem()
        session.close()
    _driver.close()
