"""The records bot: signs in, lists incidents changed since a moment, finds a person's incidents, reads one.

One bot per job, over the worker's long-lived browser session for this system: a signed-in context
is reused from job to job and renewed every N items. Every step is retried on time-outs, server
errors and expired sessions (signing in again first); a step that still fails leaves its evidence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from bots.locators import load
from bots.records_system.pages import IncidentPage, PersonSearchPage, ResultsPage, SearchPage, SignInPage
from bots.records_system.parse import parse_incident, personal_values
from bots.web import retry_step
from vhub import redaction
from vhub.browser import BrowserSession, session_for
from vhub.errors import BusinessError, ConfigurationError, SystemUnavailable
from vhub.logs import get_logger
from vhub.models import parse_uk_datetime
from vhub.settings import Settings
from vhub.store.runs import ListedVersion

SYSTEM = "records_system"
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
"""Changed-since for a system never read before: everything it holds."""

log = get_logger(__name__)


class RecordsBot:
    def __init__(self, settings: Settings, session: BrowserSession | None = None) -> None:
        self.settings = settings
        self.base_url = settings.records_system.url.rstrip("/")
        if not self.base_url:
            raise ConfigurationError("VHUB_RECORDS_SYSTEM__URL is not set and no embedded records system is running.")
        self.session = session or session_for(settings, SYSTEM)
        self.locators = load(SYSTEM)

    # ------------------------------------------------------------------ signing in
    def _ensure_signed_in(self) -> None:
        if self.session.state.get("signed_in"):
            return
        credentials = self.settings.records_system
        SignInPage(self.session.page, self.base_url, self.locators["sign_in"]).sign_in(
            credentials.username, credentials.password.get_secret_value()
        )
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

    # ------------------------------------------------------------------ scanning
    def list_changed_since(self, since: datetime | None) -> list[ListedVersion]:
        """Every incident version the search lists as changed at or after ``since``, all pages."""
        moment = (since or BEGINNING).astimezone(self.settings.tz)
        changed_since = moment.strftime("%d/%m/%Y %H:%M:%S")
        listed: dict[tuple[str, datetime], ListedVersion] = {}
        pages = 0
        with self.session.item("scan") as page:
            search = SearchPage(page, self.base_url, self.locators["search"])

            def first() -> Any:
                search.search_changed_since(changed_since)
                return search.read()

            results = self._step(first)
            while True:
                pages += 1
                if results.errors:
                    raise ConfigurationError(f"The records system refused the search: {results.errors}")
                for row in results.rows:
                    version = self._listed(row)
                    listed[(version.reference, version.last_modified)] = version
                if not results.next_url:
                    break
                next_url = results.next_url

                def following(url: str = next_url) -> Any:
                    search.open_url(url)
                    return search.read()

                results = self._step(following)
        log.info("scanned", system=SYSTEM, changed_since=moment.isoformat(), pages=pages, found=len(listed))
        return sorted(listed.values(), key=lambda item: (item.last_modified, item.reference))

    @staticmethod
    def _listed(row: dict[str, Any]) -> ListedVersion:
        try:
            system_id = int(parse_qs(urlparse(row["link"]).query)["id"][0])
            last_modified = parse_uk_datetime(row["last_modified"])
        except (KeyError, ValueError, IndexError):
            raise SystemUnavailable("The records system listed a row the bot could not read; retrying.") from None
        return ListedVersion(system_id=system_id, reference=row["reference"], last_modified=last_modified)

    # ------------------------------------------------------------------ finding a person
    def search_person(self, forename: str, surname: str, date_of_birth: date | None) -> list[ListedVersion]:
        """Every incident version in which the person is a linked nominal, by the records system's nominal
        search (normalised name, and date of birth when known), all pages, each incident once."""
        if not surname.strip():
            raise BusinessError("A person search needs a surname; the request names none.", code="missing_surname")
        dob = date_of_birth.strftime("%d/%m/%Y") if date_of_birth else ""
        redaction.remember([forename, surname, f"{forename} {surname}", dob])
        listed: dict[tuple[str, datetime], ListedVersion] = {}
        with self.session.item("person-search") as page:
            search = PersonSearchPage(page, self.base_url, self.locators["person_search"])

            def first() -> Any:
                search.search(forename, surname, dob)
                return search.read()

            pages = self._every_page(search, self._step(first), listed)
        log.info("person searched", system=SYSTEM, with_dob=bool(dob), pages=pages, found=len(listed))
        return sorted(listed.values(), key=lambda item: (item.reference, item.last_modified))

    def _every_page(
        self, search: PersonSearchPage, results: ResultsPage, listed: dict[tuple[str, datetime], ListedVersion]
    ) -> int:
        """Follow the pager from ``results`` to the last page, adding each row to ``listed``; returns pages read."""
        pages = 0
        while True:
            pages += 1
            if results.errors:
                raise ConfigurationError(f"The records system refused the search: {results.errors}")
            for row in results.rows:
                version = self._listed(row)
                listed[(version.reference, version.last_modified)] = version
            if not results.next_url:
                return pages
            next_url = results.next_url

            def following(url: str = next_url) -> Any:
                search.open_url(url)
                return search.read()

            results = self._step(following)

    # ------------------------------------------------------------------ reading
    def read_incident(self, system_id: int) -> dict[str, Any]:
        """The incident page as a raw record (the shape vhub.models.validate_incident takes)."""
        with self.session.item(f"incident-{system_id}") as page:
            incident_page = IncidentPage(page, self.base_url, self.locators["incident"])

            def read() -> Any:
                incident_page.open(system_id)
                return incident_page.read()

            raw = parse_incident(self._step(read))
        redaction.remember(personal_values(raw))
        return raw
