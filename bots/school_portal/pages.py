"""Page objects of the school notification portal: one class per page, locators from
selectors/school_portal.yaml. Methods act on the page or read it; they never assert."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Error as PlaywrightError

from bots.locators import require
from bots.portal import ListingPage, PortalPage
from vhub.errors import BusinessError, SystemUnavailable


class FindPage(PortalPage):
    """Find a school by URN, or a school or an education team by name: the rows found, each with its form link."""

    def search(self, **query: str) -> list[dict[str, Any]]:
        self.open_url(f"{self.url}?{urlencode(query)}")
        data = self.read()
        if data["values"]["errors"]:
            raise BusinessError(
                f"The {self.system_name} refused the search: {data['values']['errors']}", code="recipient_not_found"
            )
        rows: list[dict[str, Any]] = data["groups"]["results"]
        return rows


class NoticeFormPage(PortalPage):
    """The form "Send a notice to the Designated Safeguarding Lead", with the fields the area allows."""

    def form_type(self) -> tuple[str, str]:
        """(full or minimised, the portal's words about it), checking every locator of the form at once."""
        values = self.read()["values"]
        return str(values["form_type"]), str(values["policy"])

    def choose(self, name: str, value: str) -> None:
        selector = require(self.page, self.locators, name)
        try:
            self.page.select_option(selector, value)
        except PlaywrightError:
            raise SystemUnavailable(f"The {self.system_name} form did not offer the choice for {name}.") from None

    def fill_in(self, texts: dict[str, str], choices: dict[str, str]) -> None:
        for name, value in texts.items():
            self.fill(name, value)
        for name, value in choices.items():
            self.choose(name, value)


class SentNoticesPage(ListingPage):
    """The notices sent from the force's account, newest first, searchable by reference or the sender's notes."""

    group = "notices"

    def search(self, text: str) -> None:
        self.open_url(f"{self.url}?{urlencode({'q': text})}")
