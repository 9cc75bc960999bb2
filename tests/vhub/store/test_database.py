"""Sessions of the store: writing transactions take SQLite's write lock when they begin, read-only ones never do."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from vhub.errors import VhubError
from vhub.store import Database
from vhub.store.tables import UserRow, WatermarkRow, utcnow


@pytest.fixture
def quick_db(db: Database) -> Database:
    """The store, giving up after a tenth of a second when it waits for a lock (instead of 30 s)."""

    def short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 100")

    event.listen(db.engine, "connect", short_wait)
    db.engine.dispose()  # connections made from here on wait briefly
    return db


@pytest.fixture
def write_lock(db: Database) -> Iterator[sqlite3.Connection]:
    """Another connection holding the store's write lock, with a change it has not committed."""
    holder = sqlite3.connect(Path(db.engine.url.database or ""), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO watermarks (system, value, updated_at) VALUES ('other', '2026-01-01', '2026-01-01')")
    yield holder
    holder.execute("ROLLBACK")
    holder.close()


def add_user(db: Database, username: str) -> None:
    with db.session() as session:
        session.add(UserRow(username=username, display_name=username.title(), role="reviewer", password_hash="-"))


def test_a_read_only_session_reads_while_another_connection_holds_the_write_lock(
    quick_db: Database, write_lock: sqlite3.Connection
) -> None:
    """A read-only session answers at once with what was committed; the other connection's change is not seen."""
    with quick_db.session(read_only=True) as session:
        assert [] == list(session.scalars(select(WatermarkRow.system)))


def test_a_writing_session_still_waits_for_the_write_lock(quick_db: Database, write_lock: sqlite3.Connection) -> None:
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


def test_sqlite_refuses_a_write_statement_in_a_read_only_session_and_the_next_writer_writes(db: Database) -> None:
    """A statement that writes fails in a read-only session; a writing session afterwards writes normally."""
    with pytest.raises(OperationalError, match="readonly"), db.session(read_only=True) as session:
        session.execute(
            text("INSERT INTO watermarks (system, value, updated_at) VALUES ('x', '2026-01-01', '2026-01-01')")
        )
    add_user(db, "alex.reviewer")
    with db.session(read_only=True) as session:
        assert ["alex.reviewer"] == list(session.scalars(select(UserRow.username)))
