"""Sign-in: the password check holds no store lock, every refusal looks the same, and a client address that
keeps failing is paused whatever names it tries."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.review.support import ACCOUNTS, ReviewApp
from vhub.review import accounts, auth_pages
from vhub.review.throttle import AddressThrottle, address_digest
from vhub.store.tables import AuditEventRow, UserRow, utcnow


class WatchedHasher:
    """The app's hasher, with a probe run at each verify and the hashes it was asked to verify."""

    def __init__(self, hasher: Any, probe: Callable[[], str] | None = None) -> None:
        self.hasher = hasher
        self.probe = probe
        self.verified: list[str] = []
        self.probed: list[str] = []

    def verify(self, stored_hash: str, password: str) -> bool:
        self.verified.append(stored_hash)
        if self.probe is not None:
            self.probed.append(self.probe())
        return bool(self.hasher.verify(stored_hash, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hasher, name)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> WatchedHasher:
    watched = WatchedHasher(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", watched)
    return watched


def refusal(response: Any) -> tuple[int, str]:
    """The status and page of a refused sign-in, without the values that differ by design (the fresh form
    token and the name typed, shown again for correcting)."""
    return response.status_code, re.sub(r'value="[^"]*"', 'value=""', response.text)


def test_the_password_is_checked_with_no_transaction_open(review_app: ReviewApp, hasher: WatchedHasher) -> None:
    """While argon2 runs, another connection can take the store's write lock: sign-in does not stall the app."""
    path = review_app.db.engine.url.database
    assert path is not None

    def take_write_lock() -> str:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return "free"
        except sqlite3.OperationalError as error:
            return str(error)
        finally:
            other.close()

    hasher.probe = take_write_lock
    client = review_app.client()
    statuses = [
        review_app.sign_in(client, ACCOUNTS["reviewer"][0]).status_code,
        review_app.sign_in(client, ACCOUNTS["second"][0], "not-the-password-1").status_code,
        review_app.sign_in(client, "nobody.here").status_code,
    ]
    assert ([303, 401, 401], ["free"] * 3) == (statuses, hasher.probed)


def test_every_refusal_looks_the_same(review_app: ReviewApp) -> None:
    """An unknown name, a wrong password, a disabled account and a paused one get the same status and page."""
    client = review_app.client()
    with review_app.db.session() as session:
        accounts.disable_user(session, ACCOUNTS["disabled"][0], actor="test")
    paused = ACCOUNTS["second"][0]
    for _ in range(review_app.ctx.settings.review_lock_after_failures):
        review_app.sign_in(client, paused, "not-the-password-1")
    answers = {
        "unknown name": refusal(review_app.sign_in(client, "nobody.here")),
        "wrong password": refusal(review_app.sign_in(client, ACCOUNTS["reviewer"][0], "not-the-password-1")),
        "disabled account": refusal(review_app.sign_in(client, ACCOUNTS["disabled"][0])),
        "paused account": refusal(review_app.sign_in(client, paused)),
    }
    assert {(401, True)} == {(status, auth_pages.REFUSED in page) for status, page in answers.values()}
    assert 1 == len(set(answers.values()))


@pytest.mark.parametrize("case", ["unknown name", "wrong password", "disabled account", "paused account"])
def test_every_attempt_verifies_one_hash(review_app: ReviewApp, hasher: WatchedHasher, case: str) -> None:
    """Each attempt runs argon2 once, against a stand-in hash for an unknown name, so timing tells nothing."""
    username = "nobody.here" if case == "unknown name" else ACCOUNTS["reviewer"][0]
    with review_app.db.session() as session:
        if case == "disabled account":
            accounts.disable_user(session, username, actor="test")
        if case == "paused account":
            row = session.scalars(select(UserRow).where(UserRow.username == username)).one()
            row.locked_until = utcnow() + timedelta(days=1)
        stored = session.scalar(select(UserRow.password_hash).where(UserRow.username == username))
    response = review_app.sign_in(review_app.client(), username, "not-the-password-1")
    assert 401 == response.status_code
    assert [stored or accounts._DUMMY_HASH] == hasher.verified


def test_a_client_address_is_paused_across_names(make_app: Callable[..., ReviewApp]) -> None:
    """Failures from one address under many names pause that address, even for a right password; the pause is
    audited without the address, and other addresses and the accounts themselves are unaffected."""
    review = make_app(review_address_lock_after_failures=3, review_lock_after_failures=5)
    sprayer = review.client(address="203.0.113.9")
    statuses = [review.sign_in(sprayer, name, "spring-password-1").status_code for name in ("a.one", "b.two", "c.3")]
    right = review.sign_in(sprayer, ACCOUNTS["reviewer"][0])
    elsewhere = review.sign_in(review.client(address="198.51.100.4"), ACCOUNTS["reviewer"][0])
    assert ([401] * 3, 401, 303) == (statuses, right.status_code, elsewhere.status_code)
    assert auth_pages.REFUSED in right.text
    with review.db.session() as session:
        events = list(session.execute(select(AuditEventRow.action, AuditEventRow.entity_id)))
        failures = session.scalar(select(UserRow.failed_sign_ins).where(UserRow.username == ACCOUNTS["reviewer"][0]))
    assert ("sign_in.address_paused", address_digest("203.0.113.9")) in events
    assert not any("203.0.113.9" in str(value) for event in events for value in event)
    assert 0 == failures


def test_the_address_pause_lasts_the_lock_time() -> None:
    """The failure that reaches the limit pauses the address for the whole lock time, then it may try again."""
    now = [1000.0]
    throttle = AddressThrottle(limit=2, minutes=15, clock=lambda: now[0])
    first = (throttle.failed("192.0.2.1"), throttle.paused("192.0.2.1"))
    now[0] += 14 * 60
    second = (throttle.failed("192.0.2.1"), throttle.paused("192.0.2.1"), throttle.paused("192.0.2.2"))
    now[0] += 15 * 60 - 1
    still = throttle.paused("192.0.2.1")
    now[0] += 1
    assert ((False, False), (True, True, False), True, False) == (first, second, still, throttle.paused("192.0.2.1"))


def test_failures_outside_the_window_do_not_add_up() -> None:
    """Failures further apart than the lock time never pause an address."""
    now = [0.0]
    throttle = AddressThrottle(limit=2, minutes=15, clock=lambda: now[0])
    paused = []
    for _ in range(4):
        paused.append(throttle.failed("192.0.2.1"))
        now[0] += 15 * 60
    assert [False] * 4 == paused
