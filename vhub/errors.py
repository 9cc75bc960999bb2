"""The errors vhub raises, grouped by what an operator does about them.

    VhubError                 every error carries a stable ``code`` and a plain-English ``message``
    ├── BusinessError         the data is wrong or missing: a person must look; never retried
    │   └── InvalidRecord     a source record failed validation; stored as a data-quality item
    ├── ApplicationError      a system misbehaved (time-out, 5xx, lost session): retried with backoff
    │   ├── SystemUnavailable the external system did not answer or answered with a server error
    │   ├── SessionExpired    the external system signed the bot out; sign in again and retry
    │   └── StoreConflict     other workers kept writing the same rows at the same moment; retried
    ├── SelectorDrift         a locator matched no element or several: pause that system, alert
    └── ConfigurationError    a setting or configuration file is wrong: an operator must fix it

Messages never contain personal data: they name fields and records by reference, not by value.
"""

from __future__ import annotations


class VhubError(Exception):
    """Base class: a stable machine code plus a message a member of staff can act on."""

    code = "vhub_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class BusinessError(VhubError):
    """The data is wrong or missing; retrying cannot help, a person must look."""

    code = "business_error"


class InvalidRecord(BusinessError):
    """A record from an external system failed validation; ``reasons`` say which fields and why."""

    code = "invalid_record"

    def __init__(self, message: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons


class ApplicationError(VhubError):
    """A system misbehaved; the step is retried with backoff, then the job fails with evidence."""

    code = "application_error"


class SystemUnavailable(ApplicationError):
    """An external system timed out or answered with a server error."""

    code = "system_unavailable"


class SessionExpired(ApplicationError):
    """An external system ended the bot's session; the bot signs in again."""

    code = "session_expired"


class StoreConflict(ApplicationError):
    """Other workers' writes of the same rows kept meeting this one's; retrying after them succeeds."""

    code = "store_conflict"


class SelectorDrift(VhubError):
    """A locator from selectors/ matched no element or more than one: the page layout changed."""

    code = "selector_drift"

    def __init__(self, system: str, page: str, locator: str, matched: int) -> None:
        found = "no element" if matched == 0 else f"{matched} elements"
        super().__init__(
            f"The {system} page '{page}' has changed: locator '{locator}' matched {found} instead of one. "
            f"Run `vhub selectors check --portal {system}` and update selectors/{system}.yaml."
        )
        self.system = system
        self.page = page
        self.locator = locator
        self.matched = matched


class ConfigurationError(VhubError):
    """A setting or configuration file is wrong; the message says which and how to fix it."""

    code = "configuration_error"
