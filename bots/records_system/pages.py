"""Page objects of the records system: one class per page, locators from selectors/records_system.yaml.

Methods act on the page or read it; they never assert. Errors are vhub's, never Playwright's.
"""

from __future__ import annotations

from bots.portal import ListingPage, PortalPage
from vhub.errors import BusinessError


class SearchPage(ListingPage):
    """The occurrence search: incidents changed since a moment, 25 a page."""

    def search_changed_since(self, changed_since: str) -> None:
        self.open_url(self.url)
        self.fill("changed_since", changed_since)
        self.submit("submit")


class IncidentPage(PortalPage):
    def url_of(self, system_id: int) -> str:
        return f"{self.url}?id={system_id}"

    def gone(self, system_id: int) -> BusinessError:
        """What to say when the page of an incident the scan listed is not found."""
        return BusinessError(
            f"The {self.system_name} no longer shows incident id {system_id}: it may have been deleted or "
            "restricted after the scan listed it. Check it in the records system.",
            code="not_found",
        )


class PersonSearchPage(ListingPage):
    """The nominal search: every incident in which a person (name, and date of birth if given) is linked."""

    def search(self, forename: str, surname: str, date_of_birth: str) -> None:
        self.open_url(self.url)
        self.fill("surname", surname)
        self.fill("forename", forename)
        self.fill("date_of_birth", date_of_birth)
        self.submit("submit")
