"""The migrations build exactly the schema the code declares, online and as a script a DBA applies."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from vhub.store import Database
from vhub.store.database import sql_script
from vhub.store.tables import Base


def test_migrated_database_matches_the_declared_tables(db: Database) -> None:
    """No table, column, index or foreign key differs between the migrated SQLite store and vhub/store/tables.py."""
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [] == differences


def test_sqlite_script_builds_the_same_schema(db: Database, tmp_path: Path) -> None:
    """`vhub db upgrade --sql` for SQLite, applied by hand to an empty file, gives the schema the online path gives."""
    target = tmp_path / "by-hand.db"
    with sqlite3.connect(target) as connection:
        connection.executescript(sql_script(f"sqlite:///{target}"))
    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert [] == differences
