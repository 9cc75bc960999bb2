"""Page objects of the ISR partner portal: one class per page, locators from selectors/isr_portal.yaml.

Methods act on the page or read it; they never assert. Errors are vhub's, never Playwright's.
"""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Error as PlaywrightError

from bots.locators import require
from bots.portal import ListingPage, PortalPage
from vhub.errors import BusinessError, SystemUnavailable


class RequestListPage(ListingPage):
    """Every request the portal holds for the force, oldest first, 25 a page, each with its status."""

    group = "requests"


class RequestPage(PortalPage):
    """One request: who asks, why, under which law, by when, about whom."""

    def open(self, request_id: str) -> None:
        try:
            self.open_url(f"{self.url}/{quote(request_id, safe='')}")
        except BusinessError as error:
            if error.code != "not_found":
                raise
            raise BusinessError(
                f"The {self.system_name} does not show request {request_id}: it may have been withdrawn after it "
                "was listed. Check it in the portal.",
                code="not_found",
            ) from None


class ResponseFormPage(RequestPage):
    """The response form at the foot of a request page."""

    def write(self, text: str, key: str) -> None:
        """Type the response and put the bot's submission key in the form's hidden key field."""
        self.read()
        self.fill("response_text", text)
        selector = require(self.page, self.locators, "submission_key")
        try:
            self.page.eval_on_selector(selector, "(field, key) => { field.value = key; }", key)
        except PlaywrightError:
            raise SystemUnavailable(f"The {self.system_name} response form did not take the key.") from None
