"""The migrations build exactly the schema the code declares, online and as a script a DBA applies, on SQLite and
PostgreSQL, and every one of them can be undone."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text

from tests.conftest import ON_POSTGRESQL_ONLY, ON_SQLITE_ONLY
from tests.postgres import Cluster
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.database import MIGRATIONS, sql_script
from vhub.store.tables import Base, PersonRow

pytestmark = pytest.mark.both_engines


def test_migrated_database_matches_the_declared_tables(db: Database) -> None:
    """No table, column, index or foreign key differs between the migrated store and vhub/store/tables.py."""
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [] == differences


def test_every_migration_is_undone_and_done_again(db: Database) -> None:
    """Downgrading a migrated store to nothing and upgrading it again leaves exactly the declared schema."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        leftover = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()
        command.upgrade(config, "head")
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert (0, []) == (leftover, differences)


@ON_SQLITE_ONLY
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


@ON_POSTGRESQL_ONLY
def test_postgresql_script_builds_the_same_schema(db: Database, settings: Settings, postgres_cluster: Cluster) -> None:
    """`vhub db upgrade --sql` for PostgreSQL, applied with psql to an empty database as a DBA would, gives the
    schema the online path gives, audit triggers included."""
    target = postgres_cluster.url(postgres_cluster.create_database())
    script = sql_script(target)
    psql = [str(postgres_cluster.bin_dir / "psql"), "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1"]
    applied = subprocess.run(
        [*psql, target.replace("+psycopg", "")], input=script, capture_output=True, text=True, check=False
    )
    assert "" == applied.stderr
    engine = create_engine(target)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            triggers = connection.execute(
                text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass ORDER BY tgname")
            ).scalars()
            by_hand = list(triggers)
        with db.engine.connect() as connection:
            online = list(
                connection.execute(
                    text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass ORDER BY tgname")
                ).scalars()
            )
    finally:
        engine.dispose()
    assert ([], ["audit_events_append_only", "audit_events_no_truncate"]) == (differences, by_hand)
    assert online == by_hand


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
