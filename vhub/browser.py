"""Launching Chromium, and a browser session that bots reuse across items.

One launcher for bots and tests alike: the system Chromium with the flags that keep it quiet on a
closed network, or Playwright's bundled build, as the settings say. A session keeps one browser and
one context for many items, renews the context every ``browser_recycle_every`` items that used its page
(items read only through the context's request API, which shares its cookies, do not wear it), traces
each item in its own chunk (an item read through the request API only from when it turns to the page)
and, when an item fails, keeps as evidence the trace, a screenshot and the page if the page was used,
and the last page fetched through the request API with its URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from playwright.sync_api import APIRequestContext, Browser, BrowserContext, Frame, Page, Playwright, sync_playwright

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
        self.kept: dict[str, Any] = {}
        """What a bot learns for the session's whole life, across contexts (such as how a page reads)."""
        self._page_used = False  # the page navigated during the current item
        self._label = ""  # the current item's
        self._tracing = False  # the current item's trace chunk has started
        self._fetched: tuple[str, bytes] | None = None  # the current item's last page fetched by request

    @property
    def request(self) -> APIRequestContext:
        """The context's request API: requests carry the context's cookies (a sign-in in the page counts)
        and cookies they are given are the page's too."""
        if self._context is None:
            self._open_context()
        assert self._context is not None
        return self._context.request

    def cookies(self) -> list[dict[str, Any]]:
        """The context's cookies (a signed-in session's among them), for a client outside the browser."""
        return [dict(cookie) for cookie in self.request.storage_state()["cookies"]]

    def fetched(self, url: str, body: bytes) -> None:
        """Note a page fetched through the request API, to keep as evidence if the item fails."""
        self._fetched = (url, body)

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
        self._page.on("framenavigated", self._navigated)
        self.state = {}
        self.items_in_context = 0
        self.contexts_opened += 1

    def _navigated(self, frame: Frame) -> None:
        if frame.parent_frame is None:
            self._page_used = True

    def _close_context(self) -> None:
        if self._context is not None:
            try:
                self._context.close()
            except Exception:  # noqa: BLE001 - a dead context is closed already
                log.debug("context already closed", system=self.system)
        self._context = None
        self._page = None

    @contextmanager
    def item(self, label: str, *, trace: bool = True) -> Iterator[Page]:
        """Work on one item. On failure keep the evidence, renew the context and re-raise.

        ``trace=False`` for an item that is read through the request API when it can be: its trace starts only
        when ``use_page`` says the page is about to be used (a trace chunk costs more than such a read)."""
        if self._context is not None and self.items_in_context >= self.settings.browser_recycle_every:
            self._open_context()
        page = self.page
        assert self._context is not None
        self._label, self._tracing = label, False
        self._page_used, self._fetched = False, None
        if trace:
            self.use_page()
        try:
            yield page
        except BaseException:
            self.save_evidence(label)
            self._open_context()
            raise
        else:
            if self.settings.keep_success_evidence:
                self.save_evidence(label, outcome="success")
            elif self._tracing:
                self._context.tracing.stop_chunk()
            if self._page_used:
                self.items_in_context += 1

    def use_page(self) -> None:
        """The current item is about to use the page: start its trace if it has not started."""
        if self._context is not None and not self._tracing:
            self._context.tracing.start_chunk(title=self._label)
            self._tracing = True

    def save_evidence(self, label: str, outcome: str = "failure") -> Path | None:
        """Playwright trace of the current item, in the evidence folder, with the screenshot and HTML of the page
        (unless the item only fetched pages by request: the page then shows an earlier item) and the last page
        fetched by request (``fetched.html``) with its URL (``fetched-url.txt``)."""
        context = structlog.contextvars.get_contextvars()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        folder = (
            self.settings.evidence_dir
            / self.system
            / _safe(f"{stamp}-{outcome}-{context.get('job_id', 'no-job')}-{label}")
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if self._fetched is not None:
                url, body = self._fetched
                (folder / "fetched-url.txt").write_text(url + "\n", encoding="utf-8")
                (folder / "fetched.html").write_bytes(body)
            if self._page is not None and not self._page.is_closed() and (self._page_used or self._fetched is None):
                self._page.screenshot(path=str(folder / "screenshot.png"), full_page=True, timeout=10_000)
                (folder / "page.html").write_text(self._page.content(), encoding="utf-8")
            if self._context is not None and self._tracing:
                self._context.tracing.stop_chunk(path=str(folder / "trace.zip"))
                self._tracing = False
        except Exception as error:  # noqa: BLE001 - evidence is best effort; the original error matters
            log.warning("evidence incomplete", system=self.system, evidence=str(folder), error=type(error).__name__)
            return folder
        where = str(folder)
        if self.settings.evidence_store == "database":
            where = _into_store(self.settings, folder, str(context.get("job_id", "no-job")))
        log.info("evidence saved", system=self.system, outcome=outcome, evidence=where)
        return folder

    def close(self) -> None:
        """Close this session's context (the shared browser stays for the process's other sessions)."""
        self._close_context()


def _into_store(settings: Settings, folder: Path, job_id: str) -> str:
    """Move a folder of evidence into the store (``VHUB_EVIDENCE_STORE=database``); where it now is. If the store
    cannot take it, it stays in the folder on this machine, and the log says so."""
    from vhub import context as app_context  # the process's store, built by its entry point
    from vhub.evidence import DatabaseEvidence

    try:
        return DatabaseEvidence(app_context.current().db).keep(folder, job_id)
    except Exception as error:  # noqa: BLE001 - the evidence stays on this disk; the original error matters
        log.warning("evidence kept on this machine only", evidence=str(folder), error=type(error).__name__)
        return str(folder)


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
