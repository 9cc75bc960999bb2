"""What every bot for a signed-in web system shares: page plumbing, signing in, retried steps.

A system's page objects subclass ``PortalPage``; its bot subclasses ``SignedInBot`` and names its
system. Filling and clicking check first that the locator matches exactly one element (drift fails
at once); Playwright's errors become vhub's; a bounce to the sign-in page is SessionExpired, and the
next attempt signs in again (sign-in has its own retries: it takes three requests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urljoin, urlparse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.locators import PageLocators, extract, load, require
from bots.web import check_response, navigate, retry_step
from vhub.browser import BrowserSession, session_for
from vhub.errors import BusinessError, ConfigurationError, SessionExpired, SystemUnavailable
from vhub.logs import get_logger
from vhub.settings import ExternalSystem, Settings, env_name

T = TypeVar("T")
log = get_logger(__name__)


def join_url(base_url: str, path: str) -> str:
    """A path of the selectors file under the system's address, keeping any path the address has:
    ``https://host/prefix`` and ``/referrals?q=1`` make ``https://host/prefix/referrals?q=1``."""
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}" if path else base_url


class PortalPage:
    """A page of a system: its locators, its URL, and navigation that knows about expired sessions."""

    def __init__(self, page: Page, base_url: str, locators: PageLocators, system_name: str) -> None:
        self.page = page
        self.base_url = base_url
        self.locators = locators
        self.system_name = system_name

    @property
    def url(self) -> str:
        return join_url(self.base_url, self.locators.path)

    def is_sign_in(self, url: str) -> bool:
        """Whether ``url`` is the system's sign-in page (the ``sign_in`` page of its selectors file)."""
        path = self.locators.sign_in_path
        return bool(path) and urlparse(url).path == urlparse(join_url(self.base_url, path)).path

    def on_sign_in_page(self) -> bool:
        return self.is_sign_in(self.page.url)

    def absolute(self, url: str) -> str:
        """A full URL, or a link as one of this system's pages gave it, as a full URL."""
        return urljoin(self.base_url + "/", url)

    def open_url(self, url: str) -> None:
        """Open a page of this system (a full URL, or a link as one of its pages gave it); SessionExpired if the
        system sent the bot to sign in instead. A path from the selectors file goes through ``join_url`` first."""
        response = navigate(self.page, self.absolute(url), system=self.system_name)
        self.landed(response.status, self.page.url)

    def landed(self, status: int, url: str) -> None:
        """Check where a request for a page of this system ended (its status and final URL), in the browser or not:
        SystemUnavailable for a server error, BusinessError for a page gone, SessionExpired for a refusal or a
        bounce to the sign-in page."""
        if status >= 500:
            raise SystemUnavailable(f"The {self.system_name} answered with server error {status}.")
        if status == 404:
            raise BusinessError(
                f"The {self.system_name} has no such page any more ({urlparse(url).path}).", code="not_found"
            )
        if status == 403:
            raise SessionExpired(f"The {self.system_name} refused the request (403); signing in again.")
        if self.is_sign_in(url):
            raise SessionExpired(f"The {self.system_name} ended the session; signing in again.")

    def fill(self, name: str, value: str) -> None:
        selector = require(self.page, self.locators, name)
        try:
            self.page.fill(selector, value)
        except PlaywrightError as error:
            raise SystemUnavailable(f"The {self.system_name} page did not take input ({_first_line(error)}).") from None

    def submit(self, name: str) -> None:
        """Click a submit button and wait for the page it leads to; 5xx and time-outs are SystemUnavailable,
        a bounce to the sign-in page SessionExpired."""
        self._click_and_wait(name)
        if self.on_sign_in_page():
            raise SessionExpired(f"The {self.system_name} ended the session; signing in again.")

    def _click_and_wait(self, name: str) -> None:
        selector = require(self.page, self.locators, name)
        try:
            with self.page.expect_navigation(wait_until="domcontentloaded") as navigation:
                self.page.click(selector)
            check_response(navigation.value, system=self.system_name)
        except PlaywrightTimeoutError:
            raise SystemUnavailable(f"The {self.system_name} did not answer in time.") from None
        except PlaywrightError as error:
            raise SystemUnavailable(f"The {self.system_name} could not be reached ({_first_line(error)}).") from None

    def read(self) -> dict[str, Any]:
        """Every locator and group of the page, in one round trip."""
        return extract(self.page, self.locators)


@dataclass(frozen=True)
class Listing:
    """One page of a paged list: its rows, the link to the next page (None on the last), any error shown."""

    rows: list[dict[str, Any]]
    next_url: str | None
    errors: str | None


class ListingPage(PortalPage):
    """A paged list whose rows are the locator group ``group``, with ``next_page`` and ``errors`` locators."""

    group: ClassVar[str] = "results"

    def read_listing(self) -> Listing:
        return self.listing(self.read())

    def listing(self, data: dict[str, Any]) -> Listing:
        """The listing of what ``read()`` (or a read of the same page from its HTML) gave."""
        values = data["values"]
        return Listing(rows=data["groups"][self.group], next_url=values["next_page"], errors=values["errors"])


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:120] if str(error) else type(error).__name__


class SignInPage(PortalPage):
    def sign_in(self, username: str, password: str, *, settings_name: str) -> None:
        navigate(self.page, self.url, system=self.system_name)
        self.fill("username", username)
        self.fill("password", password)
        self._click_and_wait("submit")
        if self.on_sign_in_page():
            if extract(self.page, self.locators, only=["error"])["values"]["error"]:
                raise ConfigurationError(
                    f"The {self.system_name} refused the bot's username or password. Check "
                    f"{env_name(settings_name, 'username')} and {env_name(settings_name, 'password')}."
                )
            raise SessionExpired(f"The {self.system_name} did not accept the sign-in form; trying again.")


class SignedInBot:
    """Base of the bots: one browser session per system per worker, signed in once, steps retried."""

    system: ClassVar[str]  # settings field, selectors file and evidence folder: "records_system"
    system_name: ClassVar[str]  # for people: "records system"

    def __init__(self, settings: Settings, session: BrowserSession | None = None) -> None:
        self.settings = settings
        self.base_url = self.external.url.rstrip("/")
        if missing := settings.unconfigured([self.system]):
            raise ConfigurationError(
                f"The {self.system_name} is not configured: set {', '.join(missing)} (or run the simulated "
                "systems with `vhub up --simulate`).",
                code="not_configured",
            )
        self.session = session or session_for(settings, self.system)
        self.locators = load(self.system)

    @property
    def external(self) -> ExternalSystem:
        return self.settings.external(self.system)

    def page_object(self, kind: type[PortalPage], name: str) -> Any:
        """A page object of this system on the session's page, with the named page's locators."""
        return kind(self.session.page, self.base_url, self.locators[name], self.system_name)

    def _ensure_signed_in(self) -> None:
        if self.session.state.get("signed_in"):
            return
        self.session.use_page()
        credentials = self.external
        sign_in: SignInPage = self.page_object(SignInPage, "sign_in")
        retry_step(
            lambda: sign_in.sign_in(
                credentials.username, credentials.password.get_secret_value(), settings_name=self.system
            )
        )
        self.session.state["signed_in"] = True
        log.info("signed in", system=self.system)

    def step(self, action: Callable[[], T]) -> T:
        """Run one page step signed in; on failure the session is assumed lost, so the retry signs in again."""

        def attempt() -> T:
            self._ensure_signed_in()
            try:
                return action()
            except Exception:
                self.session.state["signed_in"] = False
                raise

        return retry_step(attempt)

    def every_row(self, listing: ListingPage, open_first: Callable[[], None]) -> tuple[list[dict[str, Any]], int]:
        """Open the first page of a list, then follow its pager to the end; returns every row and the pages read."""

        def first() -> Listing:
            open_first()
            return listing.read_listing()

        page = self.step(first)
        rows: list[dict[str, Any]] = []
        pages = 0
        while True:
            pages += 1
            if page.errors:
                raise ConfigurationError(f"The {self.system_name} refused the request: {page.errors}")
            rows += page.rows
            if not page.next_url:
                return rows, pages
            url = page.next_url

            def following(url: str = url) -> Listing:
                return self.read_following(listing, url)

            page = self.step(following)

    def read_following(self, listing: ListingPage, url: str) -> Listing:
        """A later page of a list, by the link its pager gave."""
        listing.open_url(url)
        return listing.read_listing()
