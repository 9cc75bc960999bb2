"""The embedded stack for integration tests: real redis-server, the simulated systems, real workers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasks.ingest import start_scan
from vhub import context
from vhub.context import AppContext
from vhub.runtime import Stack
from vhub.settings import Settings
from vhub.store.runs import run_progress


@dataclass
class RunningStack:
    stack: Stack
    ctx: AppContext

    @property
    def records_url(self) -> str:
        return self.stack.records_url

    def admin(self, method: str, path: str, payload: Any = None) -> Any:
        response = httpx.request(method, f"{self.records_url}/_admin/{path}", json=payload, timeout=10)
        response.raise_for_status()
        return response.json()

    def scan(self, timeout: float = 240.0) -> dict[str, Any]:
        """Queue a scan and wait until its run is complete (every found version handled)."""
        run_id = start_scan(kind="test")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.ctx.db.session() as session:
                progress = run_progress(session, run_id)
            if progress["status"] == "complete":
                return {"run_id": run_id, **progress}
            time.sleep(0.2)
        pytest.fail(f"run {run_id} did not complete in {timeout:.0f} s: {progress}")


@contextmanager
def running_stack(
    tmp_path: Path, *, incidents: int, seed: int, env: dict[str, str] | None = None, extra: Path | None = None
) -> Iterator[RunningStack]:
    settings = Settings(data_dir=tmp_path / "var")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        stack = Stack(settings, workers=2, seed=seed, incidents=incidents, extra=extra)
        with stack:
            resolved = settings.model_copy(
                update={
                    "redis_url": stack.redis_url,
                    "records_system": settings.records_system.model_copy(update={"url": stack.records_url}),
                }
            )
            ctx = context.configure(resolved)
            ctx.db.migrate()
            yield RunningStack(stack, ctx)
            ctx.db.dispose()


@contextmanager
def every(interval_s: float, action: Callable[[], Any]) -> Iterator[None]:
    """Call ``action`` every ``interval_s`` seconds in a thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            action()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def write_extra(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path
