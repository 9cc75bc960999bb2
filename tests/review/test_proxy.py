"""The review app behind a reverse proxy: the client address a trusted proxy forwards is the one failed sign-ins
are counted against; the same header from any other sender is ignored (`vhub review serve`, a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.fixtures.sessions import csrf_token
from vhub.review.throttle import address_digest
from vhub.runtime import free_port, wait_for_http
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.tables import AuditEventRow

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.hosts]

CLIENT = "203.0.113.5"  # the person's address, as the proxy forwards it


@contextmanager
def review_serve(data_dir: Path, trusted: str) -> Iterator[str]:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "VHUB_DATA_DIR": str(data_dir),
        "VHUB_REVIEW_TRUSTED_PROXIES": trusted,
        "VHUB_REVIEW_ADDRESS_LOCK_AFTER_FAILURES": "2",
    }
    with (data_dir.parent / "review.out").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "vhub", "review", "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/healthz", timeout=60)
        yield url
    finally:
        process.terminate()
        process.wait(20)


def paused_addresses(data_dir: Path) -> list[str]:
    db = Database(Settings(data_dir=data_dir))
    with db.session() as session:
        found = session.scalars(
            select(AuditEventRow.entity_id).where(AuditEventRow.action == "sign_in.address_paused")
        ).all()
    db.dispose()
    return list(found)


@pytest.mark.parametrize(("trusted", "counted"), [("127.0.0.1", CLIENT), ("10.9.9.9", "127.0.0.1")])
def test_failed_sign_ins_count_against_the_address_a_trusted_proxy_forwards(
    tmp_path: Path, trusted: str, counted: str
) -> None:
    """Behind a proxy on 127.0.0.1 that VHUB_REVIEW_TRUSTED_PROXIES names, X-Forwarded-For gives the address that
    is paused after repeated failures; when the sender is not a trusted proxy, its own address is."""
    data_dir = tmp_path / "var"
    with review_serve(data_dir, trusted) as url, httpx.Client(base_url=url, timeout=30) as client:
        for _ in range(2):
            form = client.get("/login", headers={"X-Forwarded-For": CLIENT})
            answer = client.post(
                "/login",
                data={"csrf_token": csrf_token(form.text), "username": "nobody", "password": "wrong password"},
                headers={"X-Forwarded-For": CLIENT, "X-Forwarded-Proto": "https"},
            )
            assert 200 <= answer.status_code < 500
    assert [address_digest(counted)] == paused_addresses(data_dir)
