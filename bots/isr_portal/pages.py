"""Page objects of the ISR partner portal: one class per page, locators from selectors/isr_portal.yaml.

Methods act on the page or read it; they never assert. Errors are vhub's, never Playwright's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlparse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.locators import PageLocators, extract, require
from bots.web import check_response, navigate
from vhub.errors import BusinessError, ConfigurationError, SessionExpired, SystemUnavailable

SYSTEM = "ISR portal"


def _fill(page: Page, locators: PageLocators, name: str, value: str) -> None:
    selector = require(page, locators, name)
    try:
        page.fill(selector, value)
    except PlaywrightError as error:
        raise SystemUnavailable(f"The {SYSTEM} page did not take input ({str(error).splitlines()[0][:120]}).") from None


def _submit(page: Page, locators: PageLocators, name: str) -> None:
    """Click a submit button and wait for the page it leads to; 5xx and time-outs are SystemUnavailable."""
    selector = require(page, locators, name)
    try:
        with page.expect_navigation(wait_until="domcontentloaded") as navigation:
            page.click(selector)
        check_response(navigation.value, system=SYSTEM)
    except PlaywrightTimeoutError:
        raise SystemUnavailable(f"The {SYSTEM} did not answer in time.") from None
    except PlaywrightError as error:
        raise SystemUnavailable(f"The {SYSTEM} could not be reached ({str(error).splitlines()[0][:120]}).") from None


class _PortalPage:
    def __init__(self, page: Page, base_url: str, locators: PageLocators) -> None:
        self.page = page
        self.base_url = base_url
        self.locators = locators

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.locators.path}"

    def on_sign_in_page(self) -> bool:
        return urlparse(self.page.url).path == "/login"

    def open_url(self, url: str) -> None:
        """Open a page of this system; SessionExpired if the system sent the bot to sign in instead."""
        response = navigate(self.page, urljoin(self.base_url + "/", url), system=SYSTEM)
        if response.status == 404:
            raise BusinessError(f"The {SYSTEM} has no such page any more ({urlparse(url).path}).", code="not_found")
        if response.status == 403:
            raise SessionExpired(f"The {SYSTEM} refused the request (403); signing in again.")
        if self.on_sign_in_page():
            raise SessionExpired(f"The {SYSTEM} ended the session; signing in again.")


class SignInPage(_PortalPage):
    def sign_in(self, username: str, password: str) -> None:
        navigate(self.page, self.url, system=SYSTEM)
        _fill(self.page, self.locators, "username", username)
        _fill(self.page, self.locators, "password", password)
        _submit(self.page, self.locators, "submit")
        if self.on_sign_in_page():
            if extract(self.page, self.locators, only=["error"])["values"]["error"]:
                raise ConfigurationError(
                    f"The {SYSTEM} refused the bot's username or password. Check VHUB_ISR_PORTAL__USERNAME "
                    "and VHUB_ISR_PORTAL__PASSWORD."
                )
            raise SessionExpired(f"The {SYSTEM} did not accept the sign-in form; trying again.")


@dataclass(frozen=True)
class RequestListing:
    rows: list[dict[str, Any]]
    next_url: str | None
    errors: str | None


class RequestListPage(_PortalPage):
    """Every request the portal holds for the force, oldest first, 25 a page, each with its status."""

    def open_first(self) -> None:
        self.open_url(self.url)

    def read(self) -> RequestListing:
        data = extract(self.page, self.locators)
        values = data["values"]
        return RequestListing(rows=data["groups"]["requests"], next_url=values["next_page"], errors=values["errors"])


class RequestPage(_PortalPage):
    """One request: who asks, why, under which law, by when, about whom."""

    def open(self, request_id: str) -> None:
        try:
            self.open_url(f"{self.url}/{quote(request_id, safe='')}")
        except BusinessError as error:
            if error.code != "not_found":
                raise
            raise BusinessError(
                f"The {SYSTEM} does not show request {request_id}: it may have been withdrawn after it was "
                "listed. Check it in the portal.",
                code="not_found",
            ) from None

    def read(self) -> dict[str, Any]:
        return extract(self.page, self.locators)
