"""Accounts: argon2 passwords, pausing after failures, disabled accounts, sessions that expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.vhub.review.conftest import NOW, PASSWORDS
from vhub.errors import BusinessError
from vhub.review.accounts import User, add_user, authenticate, disable_user, resume_session, start_session
from vhub.store import Database
from vhub.store.tables import UserRow, WebSessionRow


def sign_in(db: Database, username: str, password: str, now=NOW):  # noqa: ANN001, ANN201
    return authenticate(db, username, password, now=now, lock_after=3, lock_minutes=15)


def test_passwords_are_stored_as_argon2_hashes(db: Database, users: dict[str, User]) -> None:
    """The store holds an argon2 hash, never the password."""
    with db.session() as session:
        stored = session.scalar(select(UserRow.password_hash).where(UserRow.username == "alex"))
    assert stored.startswith("$argon2id$") and PASSWORDS["alex"] not in stored


def test_right_and_wrong_passwords(db: Database, users: dict[str, User]) -> None:
    """The right password signs in; a wrong one and an unknown user are the same answer."""
    assert "ok" == sign_in(db, "alex", PASSWORDS["alex"])[0]
    assert ("wrong", None) == sign_in(db, "alex", "nope-nope-nope")
    assert ("wrong", None) == sign_in(db, "nobody", PASSWORDS["alex"])


def test_repeated_failures_pause_the_account(db: Database, users: dict[str, User]) -> None:
    """After three failures even the right password waits until the pause is over."""
    for _ in range(2):
        assert "wrong" == sign_in(db, "alex", "bad-password-00")[0]
    assert "paused" == sign_in(db, "alex", "bad-password-00")[0]
    assert "paused" == sign_in(db, "alex", PASSWORDS["alex"])[0]
    assert "ok" == sign_in(db, "alex", PASSWORDS["alex"], now=NOW + timedelta(minutes=16))[0]


def test_disabled_accounts_cannot_sign_in_and_lose_their_sessions(db: Database, users: dict[str, User]) -> None:
    """Disabling an account refuses its sign-in and ends its open sessions."""
    with db.session() as session:
        token, _ = start_session(session, users["sam"], now=NOW)
    with db.session() as session:
        disable_user(session, "sam")
    assert "disabled" == sign_in(db, "sam", PASSWORDS["sam"])[0]
    with db.session() as session:
        assert None is resume_session(session, token, now=NOW, idle_minutes=30)


def test_sessions_end_after_idle_time(db: Database, users: dict[str, User]) -> None:
    """A session used within the idle time lives on; one left longer is over."""
    with db.session() as session:
        token, csrf = start_session(session, users["alex"], now=NOW)
    with db.session() as session:
        signed = resume_session(session, token, now=NOW + timedelta(minutes=20), idle_minutes=30)
        assert signed is not None and (signed.user.username, signed.csrf_token) == ("alex", csrf)
    with db.session() as session:
        assert None is resume_session(session, token, now=NOW + timedelta(minutes=51), idle_minutes=30)


def test_only_the_token_hash_is_stored(db: Database, users: dict[str, User]) -> None:
    """A copy of the store does not hold a usable session cookie."""
    with db.session() as session:
        token, _ = start_session(session, users["alex"], now=NOW)
        hashes = list(session.scalars(select(WebSessionRow.token_hash)))
    assert token not in hashes and 1 == len(hashes)


@pytest.mark.parametrize(
    ("username", "password", "role", "message"),
    [
        ("alex", "another-quiet-lantern-1", "reviewer", "already an account called alex"),
        ("new", "short", "reviewer", "at least 12 characters"),
        ("new", "long-enough-password", "superuser", "reviewer, admin, auditor or partner_auditor"),
    ],
)
def test_accounts_are_checked_when_added(
    db: Database, users: dict[str, User], username: str, password: str, role: str, message: str
) -> None:
    """Duplicate names, short passwords and unknown roles are refused with what to do."""
    with pytest.raises(BusinessError, match=message), db.session() as session:
        add_user(session, username, password, role)
