"""Password rules: blank, short, name-bearing and easily guessed passwords are refused with a reason, from the
app and from `vhub users add`; the passwords the tests and the demo use pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.e2e.conftest import PASSWORD as E2E_PASSWORD
from tests.review.support import ACCOUNTS
from tests.review.support import PASSWORD as REVIEW_PASSWORD
from tests.vhub.review.conftest import PASSWORDS
from vhub.errors import BusinessError
from vhub.review.accounts import DEMO_ACCOUNTS, add_demo_accounts, add_user, password_problem
from vhub.store import Database
from vhub.store.tables import UserRow


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        (" " * 12, "A password cannot be blank or only spaces."),
        ("\t" * 16, "A password cannot be blank or only spaces."),
        ("alex.reviewer", "must not contain the username or the display name"),
        ("My-ALEX.Reviewer-harbour-93", "must not contain the username or the display name"),
        ("password1234", "This is a very common password."),
        ("qwertyuiop12", "easy to guess"),
        ("Alex Reviewer 2026", "must not contain the username or the display name"),
        ("Reviewer2026!", "easy to guess"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    """Blank, name-bearing and common passwords are refused, and the reason says what is wrong."""
    problem = password_problem(password, "alex.reviewer", "Alex Reviewer")
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    ("username", "password"),
    [
        (ACCOUNTS["reviewer"][0], REVIEW_PASSWORD),
        ("e2e.reviewer", E2E_PASSWORD),
        ("alex", PASSWORDS["alex"]),
        ("sam", PASSWORDS["sam"]),
        ("admin", PASSWORDS["admin"]),
        ("kill.test", "synthetic-worker-restart-pass"),
        ("clone.approver", "synthetic-second-approval-pass"),
        ("long.one", "a quiet harbour under violet lanterns at dusk " * 3),
    ],
)
def test_the_passwords_in_use_pass(username: str, password: str) -> None:
    """The synthetic passwords the test suites sign in with meet the rules (the last one is past zxcvbn's limit)."""
    assert None is password_problem(password, username, None)


def test_a_refused_password_adds_no_account(db: Database) -> None:
    """add_user refuses a weak password with the reason and stores nothing."""
    with (
        pytest.raises(BusinessError, match="must not contain the username or the display name") as raised,
        db.session() as session,
    ):
        add_user(session, "dana.former", "dana.former.2026!", "reviewer")
    assert "weak_password" == raised.value.code
    with db.session() as session:
        assert 0 == session.scalar(select(func.count(UserRow.id)))


def test_the_demo_accounts_get_passwords_that_pass(db: Database) -> None:
    """The demo's random passwords meet the rules, so `vhub demo` always starts."""
    with db.session() as session:
        made = add_demo_accounts(session)
    assert [None] * len(DEMO_ACCOUNTS) == [password_problem(password, username) for username, password, _ in made]


def users_add(data_dir: Path, name: str, password: str) -> subprocess.CompletedProcess[str]:
    environment = {"VHUB_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "vhub", "users", "add", name, "--role", "reviewer", "--password-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_users_add_prints_the_reason_and_fails(tmp_path: Path) -> None:
    """`vhub users add` with a weak password says why, exits non-zero and adds nobody; a strong one is added."""
    refused = users_add(tmp_path, "alex.reviewer", " " * 12)
    added = users_add(tmp_path, "alex.reviewer", PASSWORDS["alex"])
    assert (2, "vhub: A password cannot be blank or only spaces. Nothing was changed.\n", "") == (
        refused.returncode,
        refused.stderr,
        refused.stdout,
    )
    assert (0, "Account alex.reviewer (reviewer) added.\n") == (added.returncode, added.stdout)
