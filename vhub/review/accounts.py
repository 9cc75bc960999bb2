"""Local accounts and signed-in sessions of the review app.

Passwords are argon2 hashes, checked with no store transaction open, and must not be easy to guess (zxcvbn).
A sign-in always starts a new session (its token is random, the store keeps only its SHA-256), so a session
id planted before sign-in is worthless. Sessions end after a period of disuse or at sign-out. Repeated failed
sign-ins pause the account for a while, whoever tries.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from vhub.errors import BusinessError
from vhub.models import hidden_characters
from vhub.store import Database
from vhub.store.audit import record_event
from vhub.store.tables import UserRow, WebSessionRow, utcnow
from vhub.triage.config import load_config

ROLES = ("reviewer", "admin", "auditor", "partner_auditor")
"""reviewer: works the queue; admin: everything; auditor: the force's referral quality audits only; partner_auditor:
a front door's own auditor, read-only, seeing only the sampled referrals sent to its authority (joint audits)."""
ROLE_WORDS = "reviewer, admin, auditor or partner_auditor"
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")
MIN_PASSWORD_LENGTH = 12
TOUCHED_EVERY = timedelta(minutes=1)  # a session's last-seen time is kept to the minute, so most requests only read
# zxcvbn's scale runs 0-4; 3 is "safely unguessable" (about 10^10 guesses) and refuses common passwords,
# keyboard runs, dates and names, including the account's own.
MIN_PASSWORD_SCORE = 3
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters are judged
_zxcvbn_lock = threading.Lock()  # zxcvbn keeps the names it is given in a module-level dictionary


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    authority: str | None = None  # a partner auditor's authority

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_review(self) -> bool:
        """The queue, drafts, data-quality items and the dashboard: VHub's reviewers and admins only."""
        return self.role in ("reviewer", "admin")

    @property
    def can_audit(self) -> bool:
        """The referral quality audits: the force's auditors and admins, and partners' auditors (their own only)."""
        return self.role in ("auditor", "admin", "partner_auditor")

    @property
    def is_partner(self) -> bool:
        return self.role == "partner_auditor"

    def may(self, role: str) -> bool:
        """Whether this account may reach a page for ``role`` (reviewer, admin, auditor, or anyone signed in)."""
        allowed = {"admin": self.is_admin, "reviewer": self.can_review, "auditor": self.can_audit, "anyone": True}
        return allowed[role]


def _user(row: UserRow) -> User:
    return User(row.id, row.username, row.display_name, row.role, row.authority)


def authority_problem(role: str, authority: str | None, authorities: list[str]) -> str | None:
    """Why an account's authority does not fit its role; None if it does. A partner's auditor belongs to exactly
    one authority of config/authorities.toml; nobody else belongs to one."""
    if role == "partner_auditor":
        if authority not in authorities:
            return f"A partner_auditor account needs its authority: one of {', '.join(authorities)}."
    elif authority:
        return "Only a partner_auditor account belongs to an authority: leave the authority empty."
    return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _letters(text: str) -> str:
    """Letters and digits only, in one case: how a name is compared with a password."""
    return re.sub(r"[\W_]+", "", text).casefold()


def password_problem(password: str, username: str, display_name: str | None = None) -> str | None:
    """Why a password would be refused, in words the person choosing it can act on; None if it will do."""
    if not password.strip():
        return "A password cannot be blank or only spaces."
    if hidden_characters(password):
        return "A password cannot hold a hidden control character (such as a NUL byte): nobody could type it."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"A password needs at least {MIN_PASSWORD_LENGTH} characters."
    typed = _letters(password)
    if (username and username.casefold() in password.casefold()) or any(
        len(_letters(name)) >= 3 and _letters(name) in typed for name in (username, display_name or "")
    ):
        return "A password must not contain the username or the display name, whatever the capitals or punctuation."
    names = f"{username} {display_name or ''}"
    words = [word for word in (username, display_name or "", *re.split(r"[\W_]+", names)) if word]
    with _zxcvbn_lock:
        verdict = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=words)
    if verdict["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = verdict["feedback"]
    advice = " ".join(part for part in (feedback["warning"], *feedback["suggestions"]) if part)
    return (
        "That password would be easy to guess: common passwords, names, dates and keyboard patterns are "
        f"tried first. {advice or 'Use a longer one: three or four unrelated words work well.'}"
    )


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    *,
    actor: str = "cli",
    authority: str | None = None,
) -> User:
    if role not in ROLES:
        raise BusinessError(f"A role is {ROLE_WORDS}, not {role!r}.")
    problem = authority_problem(role, authority or None, sorted(load_config().authorities))
    if problem is not None:
        raise BusinessError(problem, code="authority")
    if hidden_characters(username) or hidden_characters(display_name or ""):
        raise BusinessError(
            "A username or display name cannot hold a hidden control character (such as a NUL byte): type it again.",
            code="hidden_character",
        )
    problem = password_problem(password, username, display_name)
    if problem is not None:
        raise BusinessError(problem, code="weak_password")
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise BusinessError(f"There is already an account called {username}; choose another name.")
    row = UserRow(
        username=username,
        display_name=display_name or username,
        role=role,
        authority=authority or None,
        password_hash=_hasher.hash(password),
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="user.added",
        entity_type="user",
        entity_id=username,
        after={"role": role, "display_name": row.display_name, **({"authority": authority} if authority else {})},
    )
    return _user(row)


def _user_event(
    session: Session, actor: str, action: str, username: str, before: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    record_event(
        session, actor=actor, action=action, entity_type="user", entity_id=username, before=before, after=after
    )


def disable_user(session: Session, username: str, *, actor: str = "cli") -> None:
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    if row is None:
        raise BusinessError(f"There is no account called {username}.")
    if not row.disabled:
        row.disabled = True
        _end_sessions(session, row)
        _user_event(session, actor, "user.disabled", username, {"disabled": False}, {"disabled": True})


def _account(session: Session, username: str) -> UserRow:
    row = session.scalar(select(UserRow).where(UserRow.username == username).with_for_update())
    if row is None:
        raise BusinessError(f"There is no account called {username}.", code="unknown_account")
    return row


def _end_sessions(session: Session, row: UserRow) -> int:
    ended = session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.user_id == row.id, WebSessionRow.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
    return int(getattr(ended, "rowcount", 0) or 0)


def enable_user(session: Session, username: str, *, actor: str = "cli") -> bool:
    """Let a disabled (or paused) account sign in again; False if it already could."""
    row = _account(session, username)
    paused = row.locked_until is not None and row.locked_until > utcnow()
    if not row.disabled and not paused:
        return False
    before = {"disabled": row.disabled, "paused": paused}
    row.disabled, row.locked_until, row.failed_sign_ins = False, None, 0
    _user_event(session, actor, "user.enabled", username, before, {"disabled": False, "paused": False})
    return True


def reset_password(session: Session, username: str, password: str, *, actor: str = "cli") -> None:
    """Give an account a new password (held to the same rules as a new one) and end its sessions, so whoever
    had the old one is signed out everywhere. The password is judged before anything changes."""
    row = _account(session, username)
    problem = password_problem(password, row.username, row.display_name)
    if problem is not None:
        raise BusinessError(problem, code="weak_password")
    row.password_hash = _hasher.hash(password)
    row.failed_sign_ins, row.locked_until = 0, None
    ended = _end_sessions(session, row)
    _user_event(session, actor, "user.password_reset", username, None, {"sessions_ended": ended})


def list_users(session: Session) -> list[UserRow]:
    """Every account, enabled ones first, by username."""
    return list(session.scalars(select(UserRow).order_by(UserRow.disabled, UserRow.username)))


SignInOutcome = Literal["ok", "wrong", "paused", "disabled"]


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    db: Database,
    username: str,
    password: str,
    *,
    now: datetime,
    lock_after: int,
    lock_minutes: float,
    refuse: bool = False,
) -> tuple[SignInOutcome, User | None]:
    """Check a username and password. argon2 takes a noticeable moment, so it runs with no transaction open
    (every store transaction holds SQLite's write lock): read the account, verify, then record the outcome.
    Every attempt verifies exactly one hash, a stand-in when the name is unknown, so timing tells nothing.
    ``refuse``: the client's address is paused; the attempt fails whatever the password and counts against
    no account. A control character in the name is an unknown name; in the password, a wrong password."""
    found = None
    if not hidden_characters(username):  # no account's name has one, and PostgreSQL cannot even compare a NUL
        with db.session() as session:
            query = select(UserRow.id, UserRow.password_hash).where(UserRow.username == username)
            found = session.execute(query).first()
    stored_hash = found.password_hash if found is not None else _DUMMY_HASH
    matches = _verify(stored_hash, password)
    if found is None or refuse:
        return ("paused" if refuse else "wrong"), None
    new_hash = _hasher.hash(password) if matches and _hasher.check_needs_rehash(stored_hash) else None
    with db.session() as session:
        row = session.get_one(UserRow, found.id, with_for_update=True)
        if row.locked_until is not None and row.locked_until > now:
            return "paused", None
        if row.disabled:
            return "disabled", None
        if not matches or row.password_hash != stored_hash:  # wrong, or changed while it was being checked
            return _failed(session, row, now=now, lock_after=lock_after, lock_minutes=lock_minutes), None
        row.failed_sign_ins = 0
        row.locked_until = None
        row.last_sign_in_at = now
        if new_hash is not None:
            row.password_hash = new_hash
        return "ok", _user(row)


def _failed(session: Session, row: UserRow, *, now: datetime, lock_after: int, lock_minutes: float) -> SignInOutcome:
    row.failed_sign_ins += 1
    if row.failed_sign_ins < lock_after:
        return "wrong"
    row.locked_until = now + timedelta(minutes=lock_minutes)
    row.failed_sign_ins = 0
    record_event(
        session,
        actor=row.username,
        action="user.paused",
        entity_type="user",
        entity_id=row.username,
        after={"until": row.locked_until.isoformat()},
    )
    return "paused"


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


def _find_session(session: Session, token: str) -> Row[WebSessionRow, UserRow] | None:
    return session.execute(
        select(WebSessionRow, UserRow)
        .join(UserRow, WebSessionRow.user_id == UserRow.id)
        .where(WebSessionRow.token_hash == _digest(token), WebSessionRow.ended_at.is_(None))
    ).first()


def _ends(web: WebSessionRow, user: UserRow, now: datetime, idle_minutes: float) -> bool:
    return user.disabled or now - web.last_seen_at > timedelta(minutes=idle_minutes)


def _touches(web: WebSessionRow, now: datetime, touch: bool) -> bool:
    return touch and now - web.last_seen_at >= TOUCHED_EVERY


def resume_session(
    session: Session, token: str | None, *, now: datetime, idle_minutes: float, touch: bool = True
) -> SignedIn | None:
    """The signed-in user of a cookie token, if the session is live. ``touch`` (a person's request, not a
    page refreshing itself) keeps it alive."""
    if not token:
        return None
    found = _find_session(session, token)
    if found is None:
        return None
    web, user = found
    if _ends(web, user, now, idle_minutes):
        web.ended_at, web.queue_search = now, None
        return None
    if _touches(web, now, touch):
        web.last_seen_at = now
    return SignedIn(_user(user), web.csrf_token)


def resuming_changes(
    session: Session, token: str | None, *, now: datetime, idle_minutes: float, touch: bool = True
) -> bool:
    """Whether ``resume_session`` would change the store (end the session, or move its last-seen time on): a
    request for which it would not is served without the store's write lock."""
    found = _find_session(session, token) if token else None
    if found is None:
        return False
    web, user = found
    return _ends(web, user, now, idle_minutes) or _touches(web, now, touch)


def end_session(session: Session, token: str | None, *, now: datetime) -> None:
    if token:
        session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.token_hash == _digest(token))
            .values(ended_at=now, queue_search=None)
        )


def saved_search(session: Session, token: str | None) -> str | None:
    """The queue search a live session keeps (it may be a name, so it is kept here and never put in an address)."""
    if not token:
        return None
    return session.scalar(
        select(WebSessionRow.queue_search).where(
            WebSessionRow.token_hash == _digest(token), WebSessionRow.ended_at.is_(None)
        )
    )


def keep_search(session: Session, token: str | None, term: str | None) -> None:
    """Keep (or, with None, forget) the session's queue search; it is forgotten when the session ends."""
    if token:
        session.execute(
            update(WebSessionRow)
            .where(WebSessionRow.token_hash == _digest(token), WebSessionRow.ended_at.is_(None))
            .values(queue_search=term)
        )


DEMO_ACCOUNTS = (
    ("alex.reviewer", "Alex Reviewer", "reviewer", None),
    ("sam.reviewer", "Sam Reviewer", "reviewer", None),
    ("vhub.admin", "VHub Admin", "admin", None),
    ("fay.auditor", "Fay Auditor", "auditor", None),
    ("hereford.auditor", "Herefordshire MASH auditor", "partner_auditor", "herefordshire"),
)
"""(username, display name, role, authority): the demo's reviewers, admin, and the referral audit's two auditors."""


def add_demo_accounts(session: Session) -> list[tuple[str, str, str]]:
    """Demo accounts with fresh random passwords: (username, password, role). Only `vhub demo` calls this."""
    made = []
    for username, display_name, role, authority in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        add_user(session, username, password, role, display_name, actor="demo", authority=authority)
        made.append((username, password, role))
    return made
