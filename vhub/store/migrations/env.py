"""Alembic environment: runs on the connection vhub hands over (Database.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from vhub.store.tables import Base

config = context.config
connection = config.attributes.get("connection")

if context.is_offline_mode():
    # SQL scripts for a DBA to review or apply by hand: `Database.sql_script()`.
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif connection is None:
    # `alembic revision --autogenerate` from a shell: a scratch SQLite database.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///var/alembic-scratch.db")
    with engine.begin() as scratch:
        context.configure(connection=scratch, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
