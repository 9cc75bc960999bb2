"""Review app fixtures: the app over a migrated store and the real Redis, its accounts, and signed-in clients.

Passwords are hashed with argon2 at its lowest cost here: at the production cost each hash takes about a
third of a second, and the route table signs in several times per test. For the same reason each test's store
starts as a copy of one migrated for the session.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from redis import Redis

from tests.review.support import ACCOUNTS, PASSWORD, REFERENCE, ReviewApp, data_quality_row, draft_row
from vhub.context import AppContext
from vhub.review import accounts, create_app
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.audit import record_event


@pytest.fixture(scope="session")
def migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file for the session: migrating takes a fifth of a second, copying next to nothing."""
    template = Settings(data_dir=tmp_path_factory.mktemp("review-store") / "var")
    database = Database(template)
    database.migrate()
    database.dispose()
    return template.data_path / "vhub.db"


@pytest.fixture
def settings(settings: Settings, migrated_store: Path) -> Settings:
    """The shared settings, with a copy of the migrated store in place (the db fixture's migrate then checks it)."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_store, settings.data_path / "vhub.db")
    return settings


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("not a password anyone has"))


@pytest.fixture
def store(db: Database) -> dict[str, int]:
    """Accounts (all enabled: the disabled one is disabled once signed in), two drafts, one data-quality item
    and a few audit events; returns the records' ids."""
    with db.session() as session:
        for username, display_name, role in ACCOUNTS.values():
            accounts.add_user(session, username, PASSWORD, role, display_name, actor="test")
        first, second = draft_row(101, source_ref=REFERENCE), draft_row(102, risk="red", authority="herefordshire")
        item = data_quality_row()
        session.add_all([first, second, item])
        session.flush()
        record_event(session, actor="vhub.bot", action="incident.stored", entity_type="incident", entity_id=REFERENCE)
        record_event(session, actor="vhub.bot", action="draft.created", entity_type="draft", entity_id=str(first.id))
        return {"draft": first.id, "other_draft": second.id, "item": item.id}


@pytest.fixture
def make_app(
    settings: Settings, db: Database, store: dict[str, int], redis_url: str, redis_client: Redis
) -> Iterator[Callable[..., ReviewApp]]:
    """Builds the review app over the seeded store and the real Redis (emptied for each test); keyword
    arguments change settings."""
    built: list[ReviewApp] = []

    def make(**changes: Any) -> ReviewApp:
        app_settings = settings.model_copy(update={"redis_url": redis_url, **changes})
        ctx = AppContext(app_settings)
        review = ReviewApp(create_app(app_settings, ctx), ctx, db, store)
        built.append(review)
        return review

    yield make
    for review in built:
        for client in review.clients:
            client.close()
        if "db" in review.ctx.__dict__:
            review.ctx.db.dispose()
        if "jobs" in review.ctx.__dict__:
            review.ctx.jobs.connection.close()


@pytest.fixture
def review_app(make_app: Callable[..., ReviewApp]) -> ReviewApp:
    return make_app()
