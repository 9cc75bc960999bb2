"""Ingest and ISR intake on bad input: a runaway value or an invalid request is one data-quality item."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis

import tasks.ingest
import tasks.isr
from tests.factories import raw_incident, raw_isr_request
from vhub import context
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.runs import ListedVersion, open_data_quality_items, record_found, run_progress, start_run

VERSION = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)


class RecordsReading:
    """Stands in for the records bot: every incident page reads as ``raw``."""

    raw: dict[str, Any] = {}

    def __init__(self, settings: Settings) -> None:
        pass

    def read_incident(self, system_id: int) -> dict[str, Any]:
        return self.raw


class IsrReading:
    """Stands in for the ISR portal bot: one open request, reading as ``raw``."""

    raw: dict[str, Any] = {}

    def __init__(self, settings: Settings) -> None:
        pass

    def list_open_requests(self) -> list[str]:
        return [self.raw["request_id"]]

    def read_raw_request(self, request_id: str) -> dict[str, Any]:
        return self.raw


@pytest.fixture
def ctx(settings: Settings, db: Database, redis_url: str, redis_client: Redis) -> Iterator[context.AppContext]:
    yield context.configure(settings.model_copy(update={"redis_url": redis_url}))
    context.current().db.dispose()


def test_a_megabyte_forename_becomes_a_data_quality_item_naming_the_field(
    ctx: context.AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The incident is not stored; the item names the field and the limit; the run completes."""
    raw = raw_incident()
    raw["people"][1]["forename"] = "B" * 1_000_000
    monkeypatch.setattr(RecordsReading, "raw", raw)
    monkeypatch.setattr(tasks.ingest, "RecordsBot", RecordsReading)
    with ctx.db.session() as session:
        run_id = start_run(session, kind="test", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", [ListedVersion(101, "OCC/26/000101", VERSION)])
    assert "invalid" == tasks.ingest.ingest(run_id, 101, "OCC/26/000101", VERSION.isoformat())
    with ctx.db.session() as session:
        assert [["people[1].forename: is longer than 80 characters, the most VHub keeps"]] == [
            item.reasons for item in open_data_quality_items(session)
        ]
        assert {"invalid": 1} == run_progress(session, run_id)["counts"]


def test_an_invalid_request_read_at_every_scan_is_one_item(
    ctx: context.AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scans half an hour apart each read the same invalid request again; it is kept once, as read."""
    raw = raw_isr_request(due_date="")
    monkeypatch.setattr(IsrReading, "raw", raw)
    monkeypatch.setattr(tasks.isr, "IsrPortalBot", IsrReading)
    clock = iter(VERSION + timedelta(minutes=30 * scan) for scan in range(10))
    monkeypatch.setattr("vhub.intake.utcnow", lambda: next(clock))
    for _ in range(3):
        tasks.isr.isr_scan()
    with ctx.db.session() as session:
        assert [("ISR-2026-00042", ["due_date: is missing or is not a date (DD/MM/YYYY)"], raw)] == [
            (item.reference, item.reasons, item.raw) for item in open_data_quality_items(session)
        ]
