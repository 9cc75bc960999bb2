"""A NUL or other control character typed into any of the review app's forms (PostgreSQL refuses NUL in text) is
an ordinary refused sign-in or a plain error, never a server error, on either engine; nothing is stored and
nothing logged holds what was typed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import structlog
from sqlalchemy import func, select

from tests.fixtures.sessions import csrf_token
from tests.review.support import ACCOUNTS, PASSWORD, ReviewApp, Visitor
from vhub.review import auth_pages
from vhub.store.tables import AuditEventRow, DecisionRow, DraftRow, UserRow, WebSessionRow

pytestmark = pytest.mark.both_engines

MARK = "typed-by-a-person"  # in every value sent, so a log line holding what was typed is found
HIDDEN = ["\x00", "\x1b", "\x7f"]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """Everything the app logged during the test, structlog's and the standard library's (not the test client's
    own lines, which name the addresses it asked for), as one text."""
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:

        def text() -> str:
            lines = [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith("httpx")]
            return repr(events) + "\n".join(lines)

        yield text


def failures(review: ReviewApp, username: str) -> int:
    with review.db.session() as session:
        return int(session.scalar(select(UserRow.failed_sign_ins).where(UserRow.username == username)) or 0)


@pytest.mark.parametrize("hidden", HIDDEN)
def test_a_hidden_character_in_the_sign_in_form_is_a_refused_sign_in(
    make_app: Callable[..., ReviewApp], logged: Callable[[], str], hidden: str
) -> None:
    """A control character in the name or the password is the usual refusal, counted against the account (a
    wrong password) and the address (any failure), with nothing logged of what was typed."""
    review = make_app(review_address_lock_after_failures=3, review_lock_after_failures=5)
    reviewer = ACCOUNTS["reviewer"][0]
    client = review.client(address="203.0.113.7")
    answers = [
        review.sign_in(client, reviewer, f"{MARK}{hidden}"),
        review.sign_in(client, f"{reviewer}{hidden}{MARK}"),
        review.sign_in(client, f"{hidden}{MARK}", f"{hidden}{MARK}"),
    ]
    assert [(401, True)] * 3 == [(answer.status_code, auth_pages.REFUSED in answer.text) for answer in answers]
    assert 1 == failures(review, reviewer)
    paused = review.sign_in(client, reviewer)  # the right password, from an address the three failures paused
    assert (401, 303) == (paused.status_code, review.sign_in(review.client(), reviewer).status_code)
    assert MARK not in logged()
    assert MARK not in "".join(answer.text for answer in answers[:1])  # a password is never shown again


def _post(visitor: Visitor, url: str, **data: Any) -> Any:
    return visitor.client.post(url, data={"csrf_token": visitor.csrf, **data})


def _refused(answer: Any) -> bool:
    return answer.status_code == 422 and "hidden control character" in answer.text


@pytest.mark.parametrize("hidden", HIDDEN)
def test_a_hidden_character_in_any_other_form_is_refused_plainly(
    review_app: ReviewApp, logged: Callable[[], str], hidden: str
) -> None:
    """Search, reasons, notes, edits, filters and the accounts' forms refuse a control character with a plain
    error and store nothing of it."""
    typed = f"{MARK} {hidden}"
    draft, item = review_app.ids["draft"], review_app.ids["item"]
    reviewer, admin = review_app.visitor("reviewer"), review_app.visitor("admin")
    answers = {
        "search": _post(reviewer, "/queue/search", q=typed),
        "reject reason": _post(reviewer, f"/drafts/{draft}/decide", action="reject", row_version="1", reason=typed),
        "return reason": _post(reviewer, f"/drafts/{draft}/decide", action="return", row_version="1", reason=typed),
        "edit": _post(reviewer, f"/drafts/{draft}/decide", action="save", row_version="1", school=typed),
        "reopen note": _post(reviewer, f"/drafts/{draft}/reopen", row_version="1", note=typed),
        "resolve note": _post(reviewer, f"/data-quality/{item}/resolve", action="dismiss", note=typed),
        "audit filter": admin.client.get("/audit", params={"actor": typed, "reference": typed}),
        "new account": _post(
            admin,
            "/admin/users",
            username="new.person",
            display_name=typed,
            role="reviewer",
            password=f"{PASSWORD}{hidden}",
            password_again=f"{PASSWORD}{hidden}",
        ),
        "new password": _post(
            admin,
            f"/admin/users/{ACCOUNTS['second'][0]}/password",
            password=f"{PASSWORD}-{hidden}",
            password_again=f"{PASSWORD}-{hidden}",
        ),
        "account in the address": _post(admin, f"/admin/users/sam.reviewer{quote(hidden)}/disable"),
        "discard reason": _post(admin, "/admin/failed-jobs/not-a-job/discard", reason=typed),
    }
    assert {name: True for name in answers} == {name: _refused(answer) for name, answer in answers.items()}
    where = {
        "search": "the search",
        "reject reason": "the reason",
        "edit": "school",
        "new account": "display name, password, password again",
        "audit filter": "the address",
    }
    assert {name: True for name in where} == {name: f"in: {where[name]}." in answers[name].text for name in where}
    with review_app.db.session() as session:
        stored = (
            session.scalar(select(func.count()).select_from(DecisionRow)),
            session.scalar(select(DraftRow.row_version).where(DraftRow.id == draft)),
            session.scalar(select(func.count()).select_from(UserRow).where(UserRow.username == "new.person")),
            session.scalars(select(WebSessionRow.queue_search)).all(),
            [event.after for event in session.scalars(select(AuditEventRow)) if MARK in str(event.after)],
        )
    assert (0, 1, 0, [None, None], []) == stored
    assert MARK not in logged()


def test_line_breaks_and_tabs_in_a_reason_are_kept(review_app: ReviewApp) -> None:
    """Layout is not a hidden character: a reason written over several lines, with a tab, is taken."""
    reviewer = review_app.visitor("reviewer")
    draft = review_app.ids["draft"]
    answer = _post(
        reviewer, f"/drafts/{draft}/decide", action="reject", row_version="1", reason="Sent by phone.\r\n\tNo more."
    )
    assert 303 == answer.status_code
    with review_app.db.session() as session:
        assert "rejected" == session.scalar(select(DraftRow.status).where(DraftRow.id == draft))


def test_a_hidden_character_in_the_address_after_sign_in_goes_to_the_queue(review_app: ReviewApp) -> None:
    """A control character in the page to return to after signing in sends the person to the queue instead."""
    client = review_app.client()
    form = client.get("/login", params={"next": "/queue\x00x"})
    assert 200 == form.status_code
    answer = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(form.text),
            "username": ACCOUNTS["reviewer"][0],
            "password": PASSWORD,
            "next": "/drafts/1\x00",  # the form's hidden field, as a tampered one would send it
        },
    )
    assert (303, "/queue") == (answer.status_code, answer.headers["location"])
