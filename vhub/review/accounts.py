"""Local accounts and signed-in sessions of the review app.

Passwords are argon2 hashes. A sign-in always starts a new session (its token is random, the store keeps
only its SHA-256), so a session id planted before sign-in is worthless. Sessions end after a period of
disuse or at sign-out. Repeated failed sign-ins pause the account for a while, whoever tries.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vhub.errors import BusinessError
from vhub.store.audit import record_event
from vhub.store.tables import UserRow, WebSessionRow, utcnow

ROLES = ("reviewer", "admin")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _user(row: UserRow) -> User:
    return User(row.id, row.username, row.display_name, row.role)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    session: Session, username: str, password: str, role: str, display_name: str | None = None, *, actor: str = "cli"
) -> User:
    if role not in ROLES:
        raise BusinessError(f"A role is reviewer or admin, not {role!r}.")
    if len(password) < 12:
        raise BusinessError("A password needs at least 12 characters.")
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise BusinessError(f"There is already an account called {username}; choose another name.")
    row = UserRow(
        username=username, display_name=display_name or username, role=role, password_hash=_hasher.hash(password)
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="user.added",
        entity_type="user",
        entity_id=username,
        after={"role": role, "display_name": row.display_name},
    )
    return _user(row)


def disable_user(session: Session, username: str, *, actor: str = "cli") -> None:
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        raise BusinessError(f"There is no account called {username}.")
    if not row.disabled:
        row.disabled = True
        session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.user_id == row.id, WebSessionRow.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        record_event(
            session,
            actor=actor,
            action="user.disabled",
            entity_type="user",
            entity_id=username,
            before={"disabled": False},
            after={"disabled": True},
        )


SignInOutcome = Literal["ok", "wrong", "paused", "disabled"]


def authenticate(
    session: Session, username: str, password: str, *, now: datetime, lock_after: int, lock_minutes: float
) -> tuple[SignInOutcome, User | None]:
    """Check a username and password. The same work is done for unknown users, so timing tells nothing."""
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return "wrong", None
    if row.locked_until is not None and row.locked_until > now:
        return "paused", None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        row.failed_sign_ins += 1
        if row.failed_sign_ins >= lock_after:
            row.locked_until = now + timedelta(minutes=lock_minutes)
            row.failed_sign_ins = 0
            record_event(
                session,
                actor=username,
                action="user.paused",
                entity_type="user",
                entity_id=username,
                after={"until": row.locked_until.isoformat()},
            )
            return "paused", None
        return "wrong", None
    if row.disabled:
        return "disabled", None
    row.failed_sign_ins = 0
    row.locked_until = None
    row.last_sign_in_at = now
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    return "ok", _user(row)


def start_session(session: Session, user: User, *, now: datetime) -> tuple[str, str]:
    """A new session for a user who just signed in. Returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        WebSessionRow(token_hash=_digest(token), user_id=user.id, csrf_token=csrf, created_at=now, last_seen_at=now)
    )
    record_event(session, actor=user.username, action="user.signed_in", entity_type="user", entity_id=user.username)
    return token, csrf


@dataclass(frozen=True)
class SignedIn:
    user: User
    csrf_token: str


def resume_session(
    session: Session, token: str | None, *, now: datetime, idle_minutes: float, touch: bool = True
) -> SignedIn | None:
    """The signed-in user of a cookie token, if the session is live. ``touch`` (a person's request, not a
    page refreshing itself) keeps it alive."""
    if not token:
        return None
    found = session.execute(
        select(WebSessionRow, UserRow)
        .join(UserRow, WebSessionRow.user_id == UserRow.id)
        .where(WebSessionRow.token_hash == _digest(token), WebSessionRow.ended_at.is_(None))
    ).first()
    if found is None:
        return None
    web, user = found
    if user.disabled or now - web.last_seen_at > timedelta(minutes=idle_minutes):
        web.ended_at = now
        return None
    if touch:
        web.last_seen_at = now
    return SignedIn(_user(user), web.csrf_token)


def end_session(session: Session, token: str | None, *, now: datetime) -> None:
    if token:
        session.execute(update(WebSessionRow).where(WebSessionRow.token_hash == _digest(token)).values(ended_at=now))


DEMO_ACCOUNTS = (
    ("alex.reviewer", "Alex Reviewer", "reviewer"),
    ("sam.reviewer", "Sam Reviewer", "reviewer"),
    ("vhub.admin", "VHub Admin", "admin"),
)


def add_demo_accounts(session: Session) -> list[tuple[str, str, str]]:
    """Demo accounts with fresh random passwords: (username, password, role). Only `vhub demo` calls this."""
    made = []
    for username, display_name, role in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        add_user(session, username, password, role, display_name, actor="demo")
        made.append((username, password, role))
    return made
