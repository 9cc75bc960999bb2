"""Engine, sessions and migrations. SQLite in WAL mode by default; PostgreSQL by URL.

Writing transactions take SQLite's write lock when they begin; read-only ones (``session(read_only=True)``) never do.
On PostgreSQL a read-only session is a READ ONLY transaction reading one snapshot, as it is on SQLite.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, ExceptionContext, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from vhub.errors import BusinessError, ConfigurationError, VhubError
from vhub.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
READ_ONLY = "vhub_read_only"  # the execution option (and connection info key) of read-only transactions


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, decides when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Take the write lock at the start of every transaction that may write. A deferred transaction that
    reads and then writes fails at once with "database is locked" if another process wrote in between (the
    busy timeout cannot help there); an immediate one waits its turn instead. A read-only transaction never
    writes, so it begins deferred: in WAL mode it reads a snapshot while a writer holds the lock, and the
    connection refuses writes (query_only) until it is next used to write."""
    read_only = bool(connection.get_execution_options().get(READ_ONLY))
    if connection.info.get(READ_ONLY, False) != read_only:
        connection.exec_driver_sql(f"PRAGMA query_only = {'ON' if read_only else 'OFF'}")
        connection.info[READ_ONLY] = read_only
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _postgresql_begin(connection: Any) -> None:
    """A read-only transaction is one to the server too: a statement that writes is refused, and every statement
    reads the same snapshot (a page's counts and rows agree, as they do on SQLite). Repeatable read never makes a
    read-only transaction fail; writing transactions keep the server's default, read committed."""
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


_TOO_LONG = re.compile(r"character varying\((\d+)\)")


def _postgresql_refusals(context: ExceptionContext) -> BaseException | None:
    """What PostgreSQL refuses and SQLite stores as given, as an error a person can act on: a NUL character in text,
    a value longer than its column. Neither quotes the value (it may be personal data)."""
    original = context.original_exception
    if "NUL (0x00)" in str(original) or getattr(original, "sqlstate", None) == "22021":
        return BusinessError(
            "A value contains a hidden control character (a NUL byte), which the database cannot store, so nothing "
            "was saved. Retype it without it, or tell an administrator where it came from.",
            code="nul_character",
        )
    if getattr(original, "sqlstate", None) == "22001":
        limit = _TOO_LONG.search(str(original))
        most = f"the {limit.group(1)} characters" if limit else "what"
        return BusinessError(
            f"A value is longer than {most} the database keeps for it, so nothing was saved. Shorten it, or tell an "
            "administrator where it came from.",
            code="too_long",
        )
    return None


class ReadOnlySession(Session):
    """A session whose changes are refused at flush, before they reach the database (on any dialect)."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_changes(session: Session, _context: Any, _instances: Any) -> None:
    raise VhubError(
        "A page tried to change the store while only reading it; nothing was saved. Tell an administrator which "
        "page and when.",
        code="read_only_session",
    )


def make_engine(url: str) -> Engine:
    # A failed statement's error text quotes its parameters (names, dates of birth); that text reaches
    # logs and rq's failed-job records, so the parameters are left out of it.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        try:
            engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
        except ModuleNotFoundError:
            raise ConfigurationError(
                "A PostgreSQL URL needs the PostgreSQL driver: pip install -e '.[postgres]' (psycopg)."
            ) from None
        event.listen(engine, "begin", _postgresql_begin)
        event.listen(engine, "handle_error", _postgresql_refusals)
        return engine
    raise ConfigurationError(
        f"VHUB_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL; got a '{url.split(':')[0]}' URL."
    )


class Database:
    """One per process: an engine and a session factory."""

    def __init__(self, settings: Settings) -> None:
        if not settings.database_url:
            settings.data_path.mkdir(parents=True, exist_ok=True)
        self.url = settings.sqlalchemy_url
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), class_=ReadOnlySession, expire_on_commit=False
        )

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back if it raises. ``read_only`` for one that
        only reads (a page being shown): on SQLite it does not wait for, or hold, the write lock."""
        with (self._readers if read_only else self._sessions)() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest revision (safe to call on every start)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def sql_script(url: str) -> str:
    """The migrations as a SQL script for the URL's dialect (for a DBA to review or apply); no connection."""
    buffer = io.StringIO()
    config = Config(output_buffer=buffer)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head", sql=True)
    return buffer.getvalue()
