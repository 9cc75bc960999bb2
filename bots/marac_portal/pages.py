"""Page objects of the MARAC referral portal: one class per page, locators from selectors/marac_portal.yaml.
Methods act on the page or read it; they never assert."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import Error as PlaywrightError

from bots.locators import require
from bots.portal import ListingPage, PortalPage
from vhub.errors import SystemUnavailable


class ReferralFormPage(PortalPage):
    """The form "Refer to MARAC": the victim, the risk, the perpetrator (who is not told), the household."""

    def open(self) -> None:
        """Open a fresh form, checking every locator of the page at once."""
        self.open_url(self.url)
        self.read()

    def choose(self, name: str, value: str | list[str]) -> None:
        selector = require(self.page, self.locators, name)
        try:
            self.page.select_option(selector, value)
        except PlaywrightError:
            raise SystemUnavailable(f"The {self.system_name} form did not offer the choice for {name}.") from None

    def fill_in(self, texts: dict[str, str], choices: dict[str, str], risk_factors: list[str]) -> None:
        for name, value in choices.items():
            self.choose(name, value)
        for name, value in texts.items():
            self.fill(name, value)
        self.choose("risk_factors", risk_factors)


class ReferralsPage(ListingPage):
    """The force's referrals, newest first, searchable by MARAC reference or the referrer's reference."""

    group = "referrals"

    def search(self, text: str) -> None:
        self.open_url(f"{self.url}?{urlencode({'q': text})}")
