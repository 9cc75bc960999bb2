"""The migrations build exactly the schema the code declares, online and as a script a DBA applies."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from vhub.settings import Settings
from vhub.store import Database
from vhub.store.database import MIGRATIONS, sql_script
from vhub.store.tables import Base, PersonRow


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


def test_upgrading_fills_the_name_key_of_people_already_stored(settings: Settings) -> None:
    """People stored before the name key existed get the name part of their match key, and are found by it."""
    database = Database(settings)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
            connection.execute(
                text(
                    "INSERT INTO people (nominal_ref, forename, surname, date_of_birth, match_key, updated_at) "
                    "VALUES ('N100003', 'Casey', 'Testperson', '2016-09-20', 'casey testperson|2016-09-20', "
                    "'2026-03-14 09:15:00'), ('N100002', 'Brandon', 'Examplename', NULL, 'brandon examplename|?', "
                    "'2026-03-14 09:15:00')"
                )
            )
        database.migrate()
        with database.session() as session:
            assert [("N100002", "brandon examplename"), ("N100003", "casey testperson")] == [
                tuple(row)
                for row in session.execute(
                    select(PersonRow.nominal_ref, PersonRow.name_key).order_by(PersonRow.nominal_ref)
                )
            ]
    finally:
        database.dispose()
