"""The ISR intake bot: signs in to the partner portal, lists the open requests, reads one request.

One bot per job, over the worker's long-lived browser session for the portal: a signed-in context is
reused from job to job and renewed every N items. Every step is retried on time-outs, server errors and
expired sessions (signing in again first, itself a retried step); a step that still fails leaves its
evidence. Subjects' names and dates of birth are registered with the log redactor as soon as they are read.
"""

from __future__ import annotations

from typing import Any

from bots.isr_portal.pages import RequestListPage, RequestPage
from bots.isr_portal.parse import parse_request, personal_values, validate_request
from bots.portal import SignedInBot
from vhub import redaction
from vhub.errors import SystemUnavailable
from vhub.isr import IsrRequest
from vhub.logs import get_logger

SYSTEM = "isr_portal"
OPEN = "Open"

log = get_logger(__name__)


class IsrPortalBot(SignedInBot):
    system = SYSTEM
    system_name = "ISR portal"

    def list_open_requests(self) -> list[str]:
        """The ids of every request the portal shows as Open, all pages, oldest received first."""
        with self.session.item("requests"):
            listing: RequestListPage = self.page_object(RequestListPage, "request_list")
            rows, pages = self.every_row(listing, lambda: listing.open_url(listing.url))
        found = list(dict.fromkeys(row["request_id"] for row in rows if self._status(row) == OPEN))
        log.info("requests listed", system=SYSTEM, pages=pages, listed=len(rows), open=len(found))
        return found

    @staticmethod
    def _status(row: dict[str, Any]) -> str:
        if not row.get("request_id") or row.get("status") not in (OPEN, "Responded"):
            raise SystemUnavailable("The ISR portal listed a row the bot could not read; retrying.")
        return str(row["status"])

    # ------------------------------------------------------------------ reading
    def read_request(self, request_id: str) -> IsrRequest:
        """The request page, validated; InvalidRecord (with field-naming reasons) when it does not validate."""
        request = validate_request(self.read_raw_request(request_id))
        log.info("request read", system=SYSTEM, request_id=request.request_id, subjects=len(request.subjects))
        return request

    def read_raw_request(self, request_id: str) -> dict[str, Any]:
        """The request page as a raw request (the shape bots.isr_portal.parse.validate_request takes)."""
        with self.session.item(f"request-{request_id}"):
            request_page: RequestPage = self.page_object(RequestPage, "request")

            def read() -> dict[str, Any]:
                request_page.open(request_id)
                return request_page.read()

            raw = parse_request(self.step(read))
        redaction.remember(personal_values(raw))
        return raw
