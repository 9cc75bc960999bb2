"""Page objects of the records system: one class per page, locators from selectors/records_system.yaml.

Methods act on the page or read it; they never assert. Errors are vhub's, never Playwright's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlparse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.locators import PageLocators, extract, require
from bots.web import check_response, navigate
from vhub.errors import BusinessError, ConfigurationError, SessionExpired, SystemUnavailable

SYSTEM = "records system"


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


class _RecordsPage:
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


class SignInPage(_RecordsPage):
    def sign_in(self, username: str, password: str) -> None:
        navigate(self.page, self.url, system=SYSTEM)
        _fill(self.page, self.locators, "username", username)
        _fill(self.page, self.locators, "password", password)
        _submit(self.page, self.locators, "submit")
        if self.on_sign_in_page():
            if extract(self.page, self.locators, only=["error"])["values"]["error"]:
                raise ConfigurationError(
                    f"The {SYSTEM} refused the bot's username or password. Check VHUB_RECORDS_SYSTEM__USERNAME "
                    "and VHUB_RECORDS_SYSTEM__PASSWORD."
                )
            raise SessionExpired(f"The {SYSTEM} did not accept the sign-in form; trying again.")


@dataclass(frozen=True)
class ResultsPage:
    rows: list[dict[str, Any]]
    next_url: str | None
    errors: str | None


class SearchPage(_RecordsPage):
    def search_changed_since(self, changed_since: str) -> None:
        self.open_url(self.url)
        _fill(self.page, self.locators, "changed_since", changed_since)
        _submit(self.page, self.locators, "submit")
        if self.on_sign_in_page():
            raise SessionExpired(f"The {SYSTEM} ended the session; signing in again.")

    def read(self) -> ResultsPage:
        data = extract(self.page, self.locators)
        values = data["values"]
        return ResultsPage(rows=data["groups"]["results"], next_url=values["next_page"], errors=values["errors"])


class IncidentPage(_RecordsPage):
    def open(self, system_id: int) -> None:
        try:
            self.open_url(f"{self.url}?id={system_id}")
        except BusinessError as error:
            if error.code != "not_found":
                raise
            raise BusinessError(
                f"The {SYSTEM} no longer shows incident id {system_id}: it may have been deleted or restricted "
                "after the scan listed it. Check it in the records system.",
                code="not_found",
            ) from None

    def read(self) -> dict[str, Any]:
        return extract(self.page, self.locators)


class PersonSearchPage(_RecordsPage):
    """The nominal search: every incident in which a person (name, and date of birth if given) is linked."""

    def search(self, forename: str, surname: str, date_of_birth: str) -> None:
        self.open_url(self.url)
        _fill(self.page, self.locators, "surname", surname)
        _fill(self.page, self.locators, "forename", forename)
        _fill(self.page, self.locators, "date_of_birth", date_of_birth)
        _submit(self.page, self.locators, "submit")
        if self.on_sign_in_page():
            raise SessionExpired(f"The {SYSTEM} ended the session; signing in again.")

    def read(self) -> ResultsPage:
        data = extract(self.page, self.locators)
        values = data["values"]
        return ResultsPage(rows=data["groups"]["results"], next_url=values["next_page"], errors=values["errors"])
