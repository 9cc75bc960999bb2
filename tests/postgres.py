"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary folder, postgres on a free port.

The tests connect as ``vhub``, an ordinary role that owns each database it is given (as a deployment's
account would: no superuser), and the cluster's superuser makes and drops those databases.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from vhub.runtime import free_port

INSTALL = "sudo apt-get install -y postgresql"
SUPERUSER, OWNER = "postgres", "vhub"
# A throwaway cluster needs no durability; locks, constraints and isolation behave exactly as with it.
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200")


def binaries() -> Path | None:
    """The folder of initdb and postgres: Debian's newest /usr/lib/postgresql/N/bin, else the PATH's."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: _version(path.parent.parent))
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _version(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in folder.name.split(".") if part.isdigit())


class Cluster:
    """One postgres server in its own folder (data and unix socket), listening on 127.0.0.1 only."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        # Not under pytest's temporary folder: that is private to the user running the tests, and initdb will
        # not run as root, so the server may run as another account that must reach its folder.
        self.folder = Path(tempfile.mkdtemp(prefix="vhub-postgres-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._names = count(1)
        self.template = ""  # a migrated database the tests copy (made by tests/conftest.py on first use)
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam(SUPERUSER)  # Debian's postgresql package makes this account
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            # Started in its own folder: the account may not be able to read the folder the tests run from.
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "cwd": self.folder}

    def start(self) -> Cluster:
        data = self.folder / "data"
        initdb = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                f"--pgdata={data}",
                f"--username={SUPERUSER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            **self._as,
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed: {initdb.stderr.strip()}")
        options = [arg for setting in FAST for arg in ("-c", setting)]
        self.log = (self.folder / "postgres.log").open("wb")
        self.process = subprocess.Popen(
            [str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.folder)]
            + ["-c", "listen_addresses=127.0.0.1", *options],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            **self._as,
        )
        self._wait_ready()
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(OWNER)))
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited at start: {self.log_tail()}")
            try:
                psycopg.connect(self._dsn("postgres", SUPERUSER), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not answer in {timeout:.0f} s: {self.log_tail()}") from None
                time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        path = self.folder / "postgres.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _dsn(self, database: str, user: str) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user={user}"

    @contextmanager
    def _admin(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self._dsn("postgres", SUPERUSER), autocommit=True) as connection:
            yield connection

    def url(self, database: str) -> str:
        """The SQLAlchemy URL the product is given (VHUB_DATABASE_URL)."""
        return f"postgresql+psycopg://{OWNER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new, empty database (or a copy of ``template``) owned by the tests' role; returns its name."""
        name = f"vhub_test_{next(self._names)}"
        statement = sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(OWNER), sql.Identifier(template or "template1")
        )
        with self._admin() as connection:
            connection.execute(statement)
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any connection still open to it (a worker a test killed, say)."""
        with self._admin() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: open connections are ended, not waited for
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if hasattr(self, "log"):
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
