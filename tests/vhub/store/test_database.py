"""Sessions of the store: writing transactions take SQLite's write lock when they begin, read-only ones never do;
on PostgreSQL a read-only session is a read-only transaction reading one snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, event, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from tests.conftest import ON_POSTGRESQL_ONLY, ON_SQLITE_ONLY
from vhub.errors import BusinessError, VhubError
from vhub.store import Database
from vhub.store.tables import UserRow, WatermarkRow, utcnow

pytestmark = pytest.mark.both_engines

OTHER_WATERMARK = "INSERT INTO watermarks (system, value, updated_at) VALUES ('other', '2026-01-01', '2026-01-01')"


@pytest.fixture
def quick_db(db: Database) -> Database:
    """The store, giving up after a tenth of a second when it waits for a lock (instead of 30 s)."""

    def short_wait(dbapi_connection: Any, _record: Any) -> None:
        if db.engine.dialect.name == "sqlite":
            dbapi_connection.execute("PRAGMA busy_timeout = 100")
        else:
            dbapi_connection.execute("SET lock_timeout = 100")
            dbapi_connection.commit()

    event.listen(db.engine, "connect", short_wait)
    db.engine.dispose()  # connections made from here on wait briefly
    return db


@pytest.fixture
def uncommitted_write(db: Database) -> Iterator[Connection]:
    """Another connection in the middle of a writing transaction, with a change it has not committed (on SQLite
    it holds the store's write lock)."""
    with db.engine.connect() as holder:
        transaction = holder.begin()
        holder.execute(text(OTHER_WATERMARK))
        yield holder
        transaction.rollback()


def add_user(db: Database, username: str) -> None:
    with db.session() as session:
        session.add(UserRow(username=username, display_name=username.title(), role="reviewer", password_hash="-"))


def test_a_read_only_session_reads_while_another_connection_writes(
    quick_db: Database, uncommitted_write: Connection
) -> None:
    """A read-only session answers at once with what was committed; the other connection's change is not seen."""
    with quick_db.session(read_only=True) as session:
        assert [] == list(session.scalars(select(WatermarkRow.system)))


@ON_SQLITE_ONLY
def test_a_writing_session_still_waits_for_the_write_lock(quick_db: Database, uncommitted_write: Connection) -> None:
    """A session that may write takes the lock as it begins, so it waits (here: gives up) while another holds it."""
    with pytest.raises(OperationalError, match="database is locked"), quick_db.session() as session:
        session.scalars(select(WatermarkRow.system)).all()


def test_a_read_only_session_refuses_changes(db: Database) -> None:
    """Objects added in a read-only session are refused with a plain error, and nothing is stored."""
    with pytest.raises(VhubError) as raised, db.session(read_only=True) as session:
        session.add(WatermarkRow(system="records_system", value=utcnow()))
    assert "read_only_session" == raised.value.code
    with db.session(read_only=True) as session:
        assert [] == list(session.scalars(select(WatermarkRow.system)))


def test_the_database_refuses_a_write_statement_in_a_read_only_session_and_the_next_writer_writes(
    db: Database,
) -> None:
    """A statement that writes fails in a read-only session (SQLite's query_only, PostgreSQL's READ ONLY
    transaction); a writing session afterwards, on the same pooled connection, writes normally."""
    with pytest.raises(DBAPIError, match="readonly|read-only transaction"), db.session(read_only=True) as session:
        session.execute(text(OTHER_WATERMARK))
    add_user(db, "alex.reviewer")
    with db.session(read_only=True) as session:
        assert ["alex.reviewer"] == list(session.scalars(select(UserRow.username)))


def test_a_read_only_session_reads_one_snapshot(db: Database) -> None:
    """What another connection commits while a read-only session is open is not seen by that session's later
    statements (a page's count and its rows agree); the next session sees it."""
    add_user(db, "alex.reviewer")
    with db.session(read_only=True) as session:
        before = list(session.scalars(select(UserRow.username)))
        add_user(db, "sam.reviewer")
        during = list(session.scalars(select(UserRow.username).order_by(UserRow.username)))
    with db.session(read_only=True) as session:
        after = list(session.scalars(select(UserRow.username).order_by(UserRow.username)))
    assert (["alex.reviewer"], ["alex.reviewer"], ["alex.reviewer", "sam.reviewer"]) == (before, during, after)


@ON_POSTGRESQL_ONLY
@pytest.mark.parametrize(
    ("username", "display_name", "code"),
    [
        ("alex.reviewer", "Alex\x00Reviewer", "nul_character"),
        ("alex\x00reviewer", "Alex Reviewer", "nul_character"),
        ("alex.reviewer", "Alex Reviewer " * 20, "too_long"),
    ],
)
def test_postgresql_refuses_nul_and_overlong_text_with_an_error_a_person_can_act_on(
    db: Database, username: str, display_name: str, code: str
) -> None:
    """A NUL character or a value longer than its column is refused with a plain error that quotes no value; nothing
    is stored and the store goes on working."""
    with pytest.raises(BusinessError) as raised, db.session() as session:
        session.add(UserRow(username=username, display_name=display_name, role="reviewer", password_hash="-"))
    assert code == raised.value.code
    assert "Alex" not in raised.value.message and "alex" not in raised.value.message
    add_user(db, "sam.reviewer")
    with db.session(read_only=True) as session:
        assert ["sam.reviewer"] == list(session.scalars(select(UserRow.username)))


@ON_POSTGRESQL_ONLY
def test_looking_up_text_with_a_nul_on_postgresql_is_a_plain_error(db: Database) -> None:
    """A search for a value holding a NUL character (a typed sign-in name, say) fails with the same plain error."""
    with pytest.raises(BusinessError) as raised, db.session(read_only=True) as session:
        session.scalars(select(UserRow).where(UserRow.username == "alex\x00")).first()
    assert "nul_character" == raised.value.code
