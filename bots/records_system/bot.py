"""The records bot: signs in, lists incidents changed since a moment, finds a person's incidents, reads one.

One bot per job, over the worker's long-lived browser session for this system: a signed-in context
is reused from job to job. The browser signs in and fills the search forms; incident pages and the
later pages of a result list are fetched with the context's cookies and read from their HTML with the
same locators (bots/reading.py), in the browser when they cannot be. Every step is retried on
time-outs, server errors and expired sessions (signing in again first); a step that still fails
leaves its evidence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from bots.portal import Listing, ListingPage, PortalPage, SignedInBot
from bots.reading import read_in_browser, read_page
from bots.records_system.pages import IncidentPage, PersonSearchPage, SearchPage
from bots.records_system.parse import parse_incident, personal_values
from vhub import redaction
from vhub.errors import BusinessError, SystemUnavailable
from vhub.logs import get_logger
from vhub.models import parse_uk_datetime
from vhub.store.runs import ListedVersion

SYSTEM = "records_system"
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
"""Changed-since for a system never read before: everything it holds."""

log = get_logger(__name__)


class RecordsBot(SignedInBot):
    system = SYSTEM
    system_name = "records system"
    read_by_request = True
    """False: every page is read in the browser (as before the request path; for comparisons)."""

    def read(self, page: PortalPage, url: str) -> dict[str, Any]:
        """The page at ``url`` read with ``page``'s locators."""
        if self.read_by_request:
            return read_page(self.session, page, url)
        return read_in_browser(self.session, page, url)

    def read_following(self, listing: ListingPage, url: str) -> Listing:
        return listing.listing(self.read(listing, url))

    def list_changed_since(self, since: datetime | None) -> list[ListedVersion]:
        """Every incident version the search lists as changed at or after ``since``, all pages."""
        moment = (since or BEGINNING).astimezone(self.settings.tz)
        changed_since = moment.strftime("%d/%m/%Y %H:%M:%S")
        with self.session.item("scan"):
            search: SearchPage = self.page_object(SearchPage, "search")
            rows, pages = self.every_row(search, lambda: search.search_changed_since(changed_since))
        listed = self._versions(rows)
        log.info("scanned", system=SYSTEM, changed_since=moment.isoformat(), pages=pages, found=len(listed))
        return sorted(listed, key=lambda item: (item.last_modified, item.reference))

    def search_person(self, forename: str, surname: str, date_of_birth: date | None) -> list[ListedVersion]:
        """Every incident version in which the person is a linked nominal, by the records system's nominal
        search (normalised name, and date of birth when known), all pages, each incident once."""
        if not surname.strip():
            raise BusinessError("A person search needs a surname; the request names none.", code="missing_surname")
        dob = date_of_birth.strftime("%d/%m/%Y") if date_of_birth else ""
        redaction.remember([forename, surname, f"{forename} {surname}", dob])
        with self.session.item("person-search"):
            search: PersonSearchPage = self.page_object(PersonSearchPage, "person_search")
            rows, pages = self.every_row(search, lambda: search.search(forename, surname, dob))
        listed = self._versions(rows)
        log.info("person searched", system=SYSTEM, with_dob=bool(dob), pages=pages, found=len(listed))
        return sorted(listed, key=lambda item: (item.reference, item.last_modified))

    @staticmethod
    def _versions(rows: list[dict[str, Any]]) -> list[ListedVersion]:
        """The distinct incident versions of listed rows (a row per nominal may list an incident twice)."""
        found: dict[tuple[str, datetime], ListedVersion] = {}
        for row in rows:
            try:
                system_id = int(parse_qs(urlparse(row["link"]).query)["id"][0])
                last_modified = parse_uk_datetime(row["last_modified"])
            except (KeyError, ValueError, IndexError):
                raise SystemUnavailable("The records system listed a row the bot could not read; retrying.") from None
            found[(row["reference"], last_modified)] = ListedVersion(system_id, row["reference"], last_modified)
        return list(found.values())

    def read_incident(self, system_id: int) -> dict[str, Any]:
        """The incident page as a raw record (the shape vhub.models.validate_incident takes)."""
        with self.session.item(f"incident-{system_id}", trace=not self.read_by_request):
            page: IncidentPage = self.page_object(IncidentPage, "incident")

            def read() -> dict[str, Any]:
                try:
                    return self.read(page, page.url_of(system_id))
                except BusinessError as error:
                    if error.code != "not_found":
                        raise
                    raise page.gone(system_id) from None

            raw = parse_incident(self.step(read))
        redaction.remember(personal_values(raw))
        return raw
