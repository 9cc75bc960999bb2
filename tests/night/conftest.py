"""The night's fixtures: the simulated Teams webhook served over HTTP, a store, Redis and the context tasks use."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn

from fixtures.webhook_sink import create_app
from vhub import context, logs
from vhub.runtime import free_port, simulated_webhooks
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.tables import DraftRow


@dataclass(frozen=True)
class ServedSink:
    url: str

    def received(self, channel: str | None = None) -> list[dict[str, Any]]:
        params = {"channel": channel} if channel else {}
        response = httpx.get(f"{self.url}/_admin/received", params=params, timeout=5)
        response.raise_for_status()
        return list(response.json())

    def refused(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/_admin/refused", timeout=5).json())


@pytest.fixture
def sink() -> Iterator[ServedSink]:
    """The simulated Teams webhook (fixtures/webhook_sink.py) on a free local port, in a thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield ServedSink(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def ctx(
    settings: Settings, db: Database, redis_url: str, redis_client: Any, sink: ServedSink
) -> Iterator[context.AppContext]:
    """Tasks' context: this store, the real Redis, both alert channels pointed at the sink."""
    configured = context.configure(settings.model_copy(update={"redis_url": redis_url, **simulated_webhooks(sink.url)}))
    yield configured
    configured.db.dispose()
    logs.new_context()


@pytest.fixture
def make_draft(db: Database) -> Callable[..., int]:
    """Adds a draft (an Operation Encompass notice unless told otherwise) and returns its id."""
    counter = iter(range(1, 1000))

    def make(deadline: datetime, **changes: Any) -> int:
        number = next(counter)
        school = changes.pop("school", "Brookfield Primary School")
        values: dict[str, Any] = {
            "dedupe_key": f"encompass|OCC/26/{number:06d}|N1000{number:02d}|-",
            "workflow": "encompass",
            "source_ref": f"OCC/26/{number:06d}",
            "subject": f"N1000{number:02d}",
            "title": f"Operation Encompass notice — {school}",
            "recipient": {"kind": "school", "name": school, "authority": "herefordshire"},
            "recipient_name": school,
            "authority": "herefordshire",
            "policy": "minimised",
            "risk": "amber",
            "priority": "default",
            "deadline": deadline,
            "reasons": ["Risk amber"],
            "payload": {"child": {"name": "Ellie Marsh", "date_of_birth": "2016-04-02"}},
            "text": "Ellie Marsh, born 02/04/2016, 12 Orchard Way.",
        }
        values.update(changes)
        with db.session() as session:
            draft = DraftRow(**values)
            session.add(draft)
            session.flush()
            return draft.id

    return make
