"""Property fixtures: repeatable hypothesis settings and one hub per module (a migrated store, the real Redis).

Examples are derived from the test (and from constants hypothesis finds in the project's loaded modules, such as
field names), not drawn at random, and nothing is saved between runs: the same command tries the same examples
every time. The hub lives for the module: a store migrated per example would take minutes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings
from redis import Redis

import tasks.ingest
from tests.properties.hostile import Hub
from vhub import context
from vhub.settings import Settings

settings.register_profile(
    "vhub",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
)
settings.load_profile("vhub")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Hub]:
    """A hub whose records bot reads whatever record the test gives it."""
    data = tmp_path_factory.mktemp("properties") / "var"
    ctx = context.configure(Settings(data_dir=data, redis_url=redis_url))
    ctx.db.migrate()
    hub = Hub(ctx)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tasks.ingest, "RecordsBot", hub.records_bot)
        yield hub
    ctx.db.dispose()
    if "jobs" in ctx.__dict__:
        ctx.jobs.connection.close()
    with Redis.from_url(redis_url) as client:
        client.flushdb()
