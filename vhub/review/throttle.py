"""Pausing sign-ins from a client address that keeps failing, whatever names it tries.

Counts are kept in the review app's process (sign-in must work while Redis is down), so they start again
when the app restarts. Behind a reverse proxy the address is the one the proxy reports (uvicorn trusts
X-Forwarded-For from 127.0.0.1 only), so the proxy must pass it on.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Beyond this many addresses, those whose window is over are forgotten (bounds memory under a wide attack).
_TRACKED = 10_000


def address_digest(address: str) -> str:
    """Names an address in the audit trail without recording the address."""
    return hashlib.sha256(address.encode()).hexdigest()[:16]


@dataclass
class _Failures:
    count: int
    until: float  # end of the counting window, or of the pause once the limit is reached


class AddressThrottle:
    """``limit`` failures from one address within ``minutes`` pause sign-ins from it for ``minutes``."""

    def __init__(self, limit: int, minutes: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.seconds = minutes * 60
        self._clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def paused(self, address: str) -> bool:
        with self._lock:
            failures = self._failures.get(address)
            return failures is not None and failures.count >= self.limit and failures.until > self._clock()

    def failed(self, address: str) -> bool:
        """Count a failed sign-in; True when this failure is the one that pauses the address."""
        now = self._clock()
        with self._lock:
            failures = self._failures.get(address)
            if failures is None or failures.until <= now:
                if len(self._failures) >= _TRACKED:
                    self._failures = {key: kept for key, kept in self._failures.items() if kept.until > now}
                failures = self._failures[address] = _Failures(0, now + self.seconds)
            failures.count += 1
            if failures.count >= self.limit:
                failures.until = now + self.seconds  # the pause runs its full length from the failure that began it
            return failures.count == self.limit
