"""The watermark moves only past versions that are safely handled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vhub.watermark import next_watermark

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_moves_to_the_last_of_a_done_prefix() -> None:
    """A pending version holds the watermark at the last done version before it."""
    items = [(at(3), "stored"), (at(1), "invalid"), (at(5), "pending"), (at(7), "stored")]
    assert at(3) == next_watermark(items, None)


def test_a_timestamp_shared_with_pending_work_is_not_passed() -> None:
    """Two versions changed in the same second: both must be done before the watermark reaches it."""
    items = [(at(1), "stored"), (at(2), "stored"), (at(2), "pending")]
    assert at(1) == next_watermark(items, None)


def test_never_moves_backwards() -> None:
    """An earlier complete prefix leaves a later current watermark where it is."""
    assert at(10) == next_watermark([(at(1), "stored")], at(10))


def test_failed_work_holds_the_watermark() -> None:
    """A version whose job failed is not done, so the next scan lists it again."""
    assert None is next_watermark([(at(1), "failed"), (at(2), "stored")], None)


def test_everything_done_moves_to_the_newest() -> None:
    """When every version is handled the watermark is the newest last-modified time."""
    assert at(9) == next_watermark([(at(9), "unchanged"), (at(2), "stored")], at(1))
