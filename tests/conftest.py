"""Shared fixtures: settings in a temporary data folder, a migrated store (SQLite, or PostgreSQL in a throwaway
cluster), a real redis-server.

Tests marked ``both_engines`` run once on each store engine (ids ``[sqlite]`` and ``[postgresql]``); the rest
run on SQLite. ``--db`` changes that: ``sqlite`` or ``postgresql`` runs every test on that engine, ``both`` every
test that uses the store on both.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from redis import Redis
from redis.exceptions import RedisError

from vhub.browser import launch_options
from vhub.runtime import free_port
from vhub.settings import Settings
from vhub.store import Database

if TYPE_CHECKING:
    from tests.postgres import Cluster

ENGINES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/drafting/golden/ from the drafts")
    parser.addoption(
        "--db",
        choices=("default", *ENGINES, "both"),
        default="default",
        help="store engine: default = tests marked both_engines on both, the rest on SQLite; sqlite or postgresql = "
        "every test on that one; both = every test that uses the store on both",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run a test that uses the store once per engine, where the marker or --db asks for both."""
    if "store_engine" not in metafunc.fixturenames or _pinned(metafunc):
        return
    choice = metafunc.config.getoption("--db")
    marked = metafunc.definition.get_closest_marker("both_engines") is not None
    if choice == "both" or (choice == "default" and marked):
        # Session-wide, so a stack shared by a module or the session is started once per engine, not per test.
        metafunc.parametrize("store_engine", ENGINES, indirect=True, scope="session")


SHARED_RUNS = ("synthetic_run",)
"""Session fixtures that start a whole stack and run it: every test that uses one goes to the same test process."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With several test processes (``make test`` runs two), a module's tests stay in one process, so what a module
    starts once is started once; the tests of a shared run go together wherever their modules are."""
    for item in items:
        shared = next((name for name in SHARED_RUNS if name in getattr(item, "fixturenames", ())), None)
        item.add_marker(pytest.mark.xdist_group(shared or item.nodeid.split("::", 1)[0]))


def _pinned(metafunc: pytest.Metafunc) -> bool:
    """The test names its engine itself (``@ON_SQLITE_ONLY``: it is about that engine)."""
    return any("store_engine" in str(marker.args[0]) for marker in metafunc.definition.iter_markers("parametrize"))


ON_SQLITE_ONLY = pytest.mark.parametrize("store_engine", ["sqlite"], indirect=True)
"""For a test of SQLite's own behaviour (its write lock, its file): it runs on SQLite whatever --db says."""
ON_POSTGRESQL_ONLY = pytest.mark.parametrize("store_engine", ["postgresql"], indirect=True)
"""For a test of PostgreSQL's own behaviour: it runs on PostgreSQL whatever --db says."""


@pytest.fixture(scope="session")
def store_engine(request: pytest.FixtureRequest) -> str:
    """The engine this test's store runs on: "sqlite" or "postgresql"."""
    chosen = request.config.getoption("--db")
    return str(getattr(request, "param", "postgresql" if chosen == "postgresql" else "sqlite"))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the session, started the first time a test asks for PostgreSQL."""
    try:
        from tests.postgres import INSTALL, Cluster, binaries
    except ModuleNotFoundError:
        pytest.fail("The PostgreSQL driver is not installed: run `pip install -e '.[dev,postgres]'` (make test does).")
    found = binaries()
    if found is None:
        pytest.fail(f"PostgreSQL is not installed (no initdb): run `{INSTALL}` (make test does).")
    cluster = Cluster(found)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


class Databases:
    """New stores on this test's engine: "" (SQLite, in the data folder) or a PostgreSQL URL."""

    def __init__(self, engine: str, request: pytest.FixtureRequest) -> None:
        self.engine = engine
        self._request = request
        self._cluster: Cluster | None = None

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:  # started on first use: a run on SQLite alone needs no PostgreSQL
            self._cluster = self._request.getfixturevalue("postgres_cluster")
        return self._cluster

    def new_url(self) -> str:
        """A fresh, empty store's VHUB_DATABASE_URL, for a stack shared by a module or the session (it goes with
        the cluster when the session ends)."""
        if self.engine == "sqlite":
            return ""
        return self.cluster.url(self.cluster.create_database())

    @contextmanager
    def one(self, *, migrated: bool = False) -> Iterator[str]:
        """A fresh store's VHUB_DATABASE_URL, dropped when the block ends. ``migrated``: a copy of one store the
        migrations built for the session (copying takes a fraction of what migrating does)."""
        if self.engine == "sqlite":
            yield ""
            return
        name = self.cluster.create_database(template=self._migrated() if migrated else None)
        try:
            yield self.cluster.url(name)
        finally:
            self.cluster.drop_database(name)

    def _migrated(self) -> str:
        cluster = self.cluster
        if not cluster.template:
            name = cluster.create_database()
            database = Database(Settings(database_url=cluster.url(name)))
            database.migrate()
            database.dispose()  # a template is copied only while nobody is connected to it
            cluster.template = name
        return cluster.template


@pytest.fixture(scope="session")
def databases(store_engine: str, request: pytest.FixtureRequest) -> Databases:
    return Databases(store_engine, request)


@pytest.fixture
def database_url(databases: Databases, request: pytest.FixtureRequest) -> Iterator[str]:
    """This test's own store on its engine ("" = SQLite in the data folder): empty, or on PostgreSQL already
    migrated where the test uses ``db`` (whose migrate then finds nothing to do)."""
    with databases.one(migrated="db" in request.fixturenames) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free port, for the whole session (tests flush it as they need)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `sudo apt-get install -y redis-server` (make test does).")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_for_redis(url)
    yield url
    process.terminate()
    process.wait(10)


def wait_for_redis(url: str) -> None:
    """Wait up to 10 s for a redis-server just started to answer."""
    client = Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            break
        except RedisError:
            time.sleep(0.05)
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches the same Chromium, with the same flags, as the bots."""
    return {**browser_type_launch_args, **launch_options(Settings())}
