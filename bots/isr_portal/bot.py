"""The ISR intake bot: signs in to the partner portal, lists the open requests, reads one request.

One bot per job, over the worker's long-lived browser session for the portal: a signed-in context is
reused from job to job and renewed every N items. Every step is retried on time-outs, server errors and
expired sessions (signing in again first, itself a retried step); a step that still fails leaves its
evidence. Subjects' names and dates of birth are registered with the log redactor as soon as they are read.
"""

from __future__ import annotations

from typing import Any

from bots.isr_portal.pages import RequestListing, RequestListPage, RequestPage, SignInPage
from bots.isr_portal.parse import parse_request, personal_values, validate_request
from bots.locators import load
from bots.web import retry_step
from vhub import redaction
from vhub.browser import BrowserSession, session_for
from vhub.errors import ConfigurationError, SystemUnavailable
from vhub.isr import IsrRequest
from vhub.logs import get_logger
from vhub.settings import Settings

SYSTEM = "isr_portal"
OPEN = "Open"

log = get_logger(__name__)


class IsrPortalBot:
    def __init__(self, settings: Settings, session: BrowserSession | None = None) -> None:
        self.settings = settings
        self.base_url = settings.isr_portal.url.rstrip("/")
        if not self.base_url:
            raise ConfigurationError("VHUB_ISR_PORTAL__URL is not set and no embedded ISR portal is running.")
        self.session = session or session_for(settings, SYSTEM)
        self.locators = load(SYSTEM)

    # ------------------------------------------------------------------ signing in
    def _ensure_signed_in(self) -> None:
        if self.session.state.get("signed_in"):
            return
        credentials = self.settings.isr_portal
        sign_in = SignInPage(self.session.page, self.base_url, self.locators["sign_in"])
        # Signing in takes three requests, so on a struggling portal it gets its own retries.
        retry_step(lambda: sign_in.sign_in(credentials.username, credentials.password.get_secret_value()))
        self.session.state["signed_in"] = True
        log.info("signed in", system=SYSTEM)

    def _step(self, action: Any) -> Any:
        """Run one page step signed in; an expired session is forgotten so the retry signs in again."""

        def attempt() -> Any:
            self._ensure_signed_in()
            try:
                return action()
            except Exception:
                self.session.state["signed_in"] = False
                raise

        return retry_step(attempt)

    # ------------------------------------------------------------------ listing
    def list_open_requests(self) -> list[str]:
        """The ids of every request the portal shows as Open, all pages, oldest received first."""
        found: dict[str, None] = {}
        pages = listed = 0
        with self.session.item("requests") as page:
            listing_page = RequestListPage(page, self.base_url, self.locators["request_list"])

            def first() -> Any:
                listing_page.open_first()
                return listing_page.read()

            listing: RequestListing = self._step(first)
            while True:
                pages += 1
                if listing.errors:
                    raise ConfigurationError(f"The ISR portal refused the request list: {listing.errors}")
                for row in listing.rows:
                    listed += 1
                    if self._status(row) == OPEN:
                        found.setdefault(row["request_id"], None)
                if not listing.next_url:
                    break
                next_url = listing.next_url

                def following(url: str = next_url) -> Any:
                    listing_page.open_url(url)
                    return listing_page.read()

                listing = self._step(following)
        log.info("requests listed", system=SYSTEM, pages=pages, listed=listed, open=len(found))
        return list(found)

    @staticmethod
    def _status(row: dict[str, Any]) -> str:
        if not row.get("request_id") or row.get("status") not in (OPEN, "Responded"):
            raise SystemUnavailable("The ISR portal listed a row the bot could not read; retrying.")
        return str(row["status"])

    # ------------------------------------------------------------------ reading
    def read_request(self, request_id: str) -> IsrRequest:
        """The request page, validated; InvalidRecord (with field-naming reasons) when it does not validate."""
        with self.session.item(f"request-{request_id}") as page:
            request_page = RequestPage(page, self.base_url, self.locators["request"])

            def read() -> Any:
                request_page.open(request_id)
                return request_page.read()

            raw = parse_request(self._step(read))
        redaction.remember(personal_values(raw))
        request = validate_request(raw)
        log.info("request read", system=SYSTEM, request_id=request.request_id, subjects=len(request.subjects))
        return request
