"""Runs and scan items: the watermark follows what is safely handled; a run goes to triage once; invalid records are
kept once."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ON_SQLITE_ONLY
from vhub.store import Database
from vhub.store.runs import (
    ListedVersion,
    finish_item,
    get_watermark,
    hand_to_triage,
    open_data_quality_items,
    record_found,
    record_invalid,
    run_progress,
    start_run,
)
from vhub.watermark import OPEN

pytestmark = pytest.mark.both_engines

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
LISTED = [ListedVersion(i, f"OCC/26/00000{i}", T0 + timedelta(minutes=i)) for i in range(1, 4)]


def test_watermark_waits_for_the_earliest_unfinished_version(db: Database) -> None:
    """Finishing the second and third versions before the first leaves the watermark unset until then."""
    with db.session() as session:
        run_id = start_run(session, kind="test", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", LISTED)
    for item in (LISTED[2], LISTED[1]):
        with db.session() as session:
            finish_item(session, run_id, item.reference, item.last_modified, "stored")
    with db.session() as session:
        assert None is get_watermark(session, "records_system")
        finish_item(session, run_id, LISTED[0].reference, LISTED[0].last_modified, "invalid")
    with db.session() as session:
        assert LISTED[2].last_modified == get_watermark(session, "records_system")
        assert {"status": "complete", "found": 3, "counts": {"stored": 2, "invalid": 1}, "done": 3} == run_progress(
            session, run_id
        )


def test_invalid_record_is_kept_once(db: Database) -> None:
    """The same invalid version met twice is one data-quality item, with its reasons."""
    for _ in range(2):
        with db.session() as session:
            record_invalid(
                session,
                system="records_system",
                system_id=7,
                reference="OCC/26/000007",
                version=T0,
                reasons=["occurred_at: is missing"],
                raw={"reference": "OCC/26/000007"},
            )
    with db.session() as session:
        items = open_data_quality_items(session)
        assert [("OCC/26/000007", ["occurred_at: is missing"])] == [(i.reference, i.reasons) for i in items]


def found(db: Database, items: list[ListedVersion], *, system: str = "records_system") -> str:
    """A run of ``system`` that listed ``items``, all pending."""
    with db.session() as session:
        run_id = start_run(session, kind="test", system=system, changed_since=None)
        record_found(session, run_id, system, items)
    return run_id


def finish(db: Database, run_id: str, item: ListedVersion, status: str) -> bool:
    with db.session() as session:
        return finish_item(session, run_id, item.reference, item.last_modified, status)


def watermark(db: Database, system: str = "records_system") -> datetime | None:
    with db.session() as session:
        return get_watermark(session, system)


def listed(*minutes: int) -> list[ListedVersion]:
    return [ListedVersion(i, f"OCC/26/{i:06d}", T0 + timedelta(minutes=m)) for i, m in enumerate(minutes, 1)]


def test_a_time_shared_with_pending_work_is_not_passed(db: Database) -> None:
    """Two versions changed in the same second: both must be done before the watermark reaches it."""
    items = listed(1, 2, 2)
    run_id = found(db, items)
    finish(db, run_id, items[0], "stored")
    finish(db, run_id, items[1], "stored")
    assert items[0].last_modified == watermark(db)


def test_a_version_failed_for_good_holds_the_watermark(db: Database) -> None:
    """A version whose ingest failed is not done, so the next scan lists it again; once stored, it is passed."""
    items = listed(1, 2)
    run_id = found(db, items)
    finish(db, run_id, items[1], "stored")
    finish(db, run_id, items[0], "failed")
    assert None is watermark(db)
    finish(db, run_id, items[0], "stored")
    assert items[1].last_modified == watermark(db)


def test_failed_never_overwrites_a_version_already_handled(db: Database) -> None:
    """A job that failed after storing its version (its worker died) leaves the version stored."""
    items = listed(1)
    run_id = found(db, items)
    finish(db, run_id, items[0], "stored")
    finish(db, run_id, items[0], "failed")
    with db.session() as session:
        assert {"stored": 1} == run_progress(session, run_id)["counts"]


def test_the_watermark_never_moves_back(db: Database) -> None:
    """A later run finishing an older version leaves a newer watermark where it is."""
    newer = listed(10)
    finish(db, found(db, newer), newer[0], "stored")
    older = listed(1)
    finish(db, found(db, older), older[0], "stored")
    assert newer[0].last_modified == watermark(db)


@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example uses its own run and system
)
@given(
    minutes=st.lists(st.integers(0, 6), min_size=1, max_size=8),
    outcomes=st.lists(st.sampled_from(["stored", "unchanged", "invalid", "failed", "pending"]), min_size=8, max_size=8),
    order=st.randoms(use_true_random=False),
)
def test_the_watermark_is_the_end_of_the_done_prefix(
    db: Database, minutes: list[int], outcomes: list[str], order: random.Random
) -> None:
    """Whatever order versions finish in, the watermark is the newest time before which every version is done."""
    system = f"system-{uuid.uuid4().hex[:8]}"
    items = listed(*minutes)
    run_id = found(db, items, system=system)
    finishing = list(zip(items, outcomes, strict=False))
    order.shuffle(finishing)
    for item, outcome in finishing:
        if outcome != "pending":
            finish(db, run_id, item, outcome)
    status = {item: outcome for item, outcome in finishing}
    first_open = min((item.last_modified for item in items if status[item] in OPEN), default=None)
    done = [item.last_modified for item in items if first_open is None or item.last_modified < first_open]
    assert max(done, default=None) == watermark(db, system)


def test_the_run_is_handed_to_triage_once_when_nothing_is_left_to_read(db: Database) -> None:
    """No hand-over while a version is pending; the finish that reads the last one hands the run over, once;
    a version failed for good does not hold it back."""
    items = listed(1, 2, 3)
    run_id = found(db, items)
    handed = []
    for item, status in zip(items, ["stored", "failed", "invalid"], strict=True):
        finish(db, run_id, item, status)
        with db.session() as session:
            handed.append(hand_to_triage(session, run_id))
    with db.session() as session:
        handed.append(hand_to_triage(session, run_id))
    assert [False, False, True, False] == handed


def test_a_version_done_after_the_hand_over_is_late(db: Database) -> None:
    """Finishing a version after the run went to triage says so (its ingest must queue its own triage)."""
    items = listed(1, 2)
    run_id = found(db, items)
    late = [finish(db, run_id, items[0], "failed"), finish(db, run_id, items[1], "stored")]
    with db.session() as session:
        hand_to_triage(session, run_id)
    late.append(finish(db, run_id, items[0], "stored"))
    assert [False, False, True] == late


@ON_SQLITE_ONLY  # counted in SQLite's own steps
def test_finishing_a_version_costs_the_same_in_a_run_of_any_size(db: Database) -> None:
    """The store's work (SQLite virtual-machine steps) to finish one version does not grow with the run."""

    def steps_to_finish_the_middle(size: int) -> int:
        items = listed(*range(size))
        run_id = found(db, items, system=f"system-{size}")
        for item in items[: size // 2]:
            finish(db, run_id, item, "stored")
        steps = 0

        def count() -> int:
            nonlocal steps
            steps += 1
            return 0

        with db.session() as session:
            raw = session.connection().connection.dbapi_connection
            assert raw is not None
            raw.set_progress_handler(count, 1)
            try:
                finish_item(session, run_id, items[size // 2].reference, items[size // 2].last_modified, "stored")
            finally:
                raw.set_progress_handler(None, 1)
        return steps

    small, large = steps_to_finish_the_middle(20), steps_to_finish_the_middle(2000)
    assert large < 2 * small, (small, large)
