"""What every bot does on the web: navigate with errors mapped to vhub's, and retry transient steps.

Playwright's own errors never leave a bot: a time-out, a refused connection or a 5xx answer becomes
SystemUnavailable (retried); a bounce to the sign-in page becomes SessionExpired (sign in, retry).
Messages name the system and the status, never a page's content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from vhub.errors import ApplicationError, SessionExpired, SystemUnavailable
from vhub.logs import get_logger

T = TypeVar("T")
log = get_logger(__name__)

STEP_ATTEMPTS = 5
"""Attempts of one step (a page load, a form post) before the job itself fails and rq's retry takes over."""


def navigate(page: Page, url: str, *, system: str) -> Response:
    """Open a URL; raise SystemUnavailable for a time-out, a network error or a 5xx answer."""
    try:
        response = page.goto(url, wait_until="domcontentloaded")
    except PlaywrightTimeoutError:
        raise SystemUnavailable(f"The {system} did not answer in time.") from None
    except PlaywrightError as error:
        reason = str(error).split("\n", 1)[0][:120]
        raise SystemUnavailable(f"The {system} could not be reached ({reason}).") from None
    return check_response(response, system=system)


def check_response(response: Response | None, *, system: str) -> Response:
    if response is None:
        raise SystemUnavailable(f"The {system} returned no page.")
    if response.status >= 500:
        raise SystemUnavailable(f"The {system} answered with server error {response.status}.")
    return response


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.info(
        "retrying step",
        attempt=state.attempt_number,
        error=getattr(error, "code", type(error).__name__),
        wait_s=round(state.next_action.sleep, 2) if state.next_action else None,
    )


class _Backoff:
    """Exponential back-off for a struggling system; none after an expired session (sign in at once)."""

    def __init__(self, max_wait_s: float) -> None:
        self._exponential = wait_exponential(multiplier=0.2, max=max_wait_s)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return 0.0 if isinstance(error, SessionExpired) else float(self._exponential(state))


def retry_step(step: Callable[[], T], *, attempts: int = STEP_ATTEMPTS, max_wait_s: float = 4.0) -> T:
    """Run a step, retrying application errors (time-outs, 5xx, expired sessions) with backoff.

    Business errors and selector drift are not retried: they would fail the same way again."""
    retrying = Retrying(
        retry=retry_if_exception_type(ApplicationError),
        stop=stop_after_attempt(attempts),
        wait=_Backoff(max_wait_s),
        before_sleep=_log_retry,
        reraise=True,
    )
    return retrying(step)
