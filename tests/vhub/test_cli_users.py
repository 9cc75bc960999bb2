"""`vhub users`: accounts listed with role, state and last sign-in in UK time; re-enabled; given a new password."""

from __future__ import annotations

import getpass
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from vhub.errors import BusinessError
from vhub.review.accounts import add_user
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.tables import AuditEventRow, UserRow, WebSessionRow


def vhub(data: Path, *args: str, stdin: str = "", **settings: str) -> subprocess.CompletedProcess[str]:
    environment = {"VHUB_DATA_DIR": str(data), "PATH": "/usr/bin:/bin", "HOME": str(data.parent), **settings}
    return subprocess.run(
        [sys.executable, "-m", "vhub", *args], input=stdin, capture_output=True, text=True, env=environment, timeout=120
    )


def test_list_shows_each_accounts_role_state_and_last_sign_in(tmp_path: Path) -> None:
    """The list names each account's role, whether it is enabled, and its last sign-in in UK time with the zone."""
    data = tmp_path / "var"
    assert (
        0
        == vhub(
            data,
            "users",
            "add",
            "ann.admin",
            "--role",
            "admin",
            "--password-stdin",
            stdin="slate harbour violin meadow\n",
        ).returncode
    )
    assert (
        0
        == vhub(
            data,
            "users",
            "add",
            "bo.reviewer",
            "--role",
            "reviewer",
            "--password-stdin",
            stdin="amber tunnel kestrel spoon\n",
        ).returncode
    )
    assert 0 == vhub(data, "users", "disable", "bo.reviewer").returncode
    db = Database(Settings(data_dir=data))
    with db.session() as session:
        session.scalars(select(UserRow).where(UserRow.username == "ann.admin")).one().last_sign_in_at = datetime(
            2026, 7, 1, 8, 30, tzinfo=UTC
        )
    db.dispose()
    listed = vhub(data, "users", "list")
    rows = [re.split(r"\s{2,}", line.strip()) for line in listed.stdout.splitlines()]
    assert [
        ["username", "role", "status", "last signed in"],
        ["ann.admin", "admin", "enabled", "01/07/2026 09:30 BST"],
        ["bo.reviewer", "reviewer", "disabled", "never"],
    ] == rows


def test_enable_and_a_new_password_are_audited_and_end_sessions(tmp_path: Path) -> None:
    """Re-enabling lets a disabled account in; a new password is held to the rules, ends the account's sessions,
    and both are audited with the account signed in to this machine."""
    data = tmp_path / "var"
    vhub(
        data,
        "users",
        "add",
        "bo.reviewer",
        "--role",
        "reviewer",
        "--password-stdin",
        stdin="amber tunnel kestrel spoon\n",
    )
    vhub(data, "users", "disable", "bo.reviewer")
    enabled = vhub(data, "users", "enable", "bo.reviewer")
    again = vhub(data, "users", "enable", "bo.reviewer")
    db = Database(Settings(data_dir=data))
    with db.session() as session:
        user = session.scalars(select(UserRow).where(UserRow.username == "bo.reviewer")).one()
        now = datetime.now(UTC)
        session.add(
            WebSessionRow(token_hash="x" * 64, user_id=user.id, csrf_token="c", created_at=now, last_seen_at=now)
        )
    weak = vhub(data, "users", "password", "bo.reviewer", "--password-stdin", stdin="password1234\n")
    done = vhub(data, "users", "password", "bo.reviewer", "--password-stdin", stdin="copper kettle orchard lantern\n")
    assert ["Account bo.reviewer can sign in again.", "Account bo.reviewer could already sign in."] == [
        enabled.stdout.strip(),
        again.stdout.strip(),
    ]
    assert (2, True) == (weak.returncode, "would be easy to guess" in weak.stderr)
    assert (0, "Account bo.reviewer has a new password; its sessions have ended.") == (
        done.returncode,
        done.stdout.strip(),
    )
    with db.session() as session:
        ended = session.scalars(select(WebSessionRow.ended_at)).one()
        events = session.execute(
            select(AuditEventRow.action, AuditEventRow.actor).where(
                AuditEventRow.action.in_(["user.enabled", "user.password_reset"])
            )
        ).all()
    db.dispose()
    actor = f"cli:{getpass.getuser()}"
    assert (True, [("user.enabled", actor), ("user.password_reset", actor)]) == (
        ended is not None,
        [tuple(e) for e in events],
    )


@pytest.mark.both_engines
def test_a_hidden_character_in_a_new_account_is_refused(tmp_path: Path, database_url: str) -> None:
    """A NUL in the password read from standard input is refused with a plain message and no account is added; so is
    an escape in the display name. On either engine."""
    data = tmp_path / "var"
    store = {"VHUB_DATABASE_URL": database_url} if database_url else {}
    add = ("users", "add", "cy.reviewer", "--role", "reviewer", "--password-stdin")
    answer = vhub(data, *add, stdin="slate harbour\x00violin meadow\n", **store)
    db = Database(Settings(data_dir=data, database_url=database_url))
    with db.session() as session, pytest.raises(BusinessError) as refused:
        add_user(session, "cy.reviewer", "slate harbour violin meadow", "reviewer", "Cy \x1b[31mReviewer")
    with db.session() as session:
        accounts = session.scalars(select(UserRow.username)).all()
    db.dispose()
    assert (2, True, []) == (answer.returncode, "hidden control character" in answer.stderr, accounts)
    assert "hidden control character" in refused.value.message
