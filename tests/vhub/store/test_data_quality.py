"""Resolving a data-quality item: of two people resolving at once, exactly one does; the other is told who."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from vhub.errors import BusinessError
from vhub.store import Database
from vhub.store.data_quality import already_resolved, resolve_item
from vhub.store.runs import record_invalid
from vhub.store.tables import AuditEventRow, DataQualityItemRow

pytestmark = pytest.mark.both_engines

PEOPLE = ("alex.reviewer", "sam.reviewer")


@pytest.fixture
def item_id(db: Database) -> int:
    with db.session() as session:
        record_invalid(
            session,
            system="records_system",
            system_id=101,
            reference="OCC/26/000101",
            version=datetime(2026, 3, 14, 9, 15, tzinfo=UTC),
            reasons=["occurred_at: is missing"],
            raw={"reference": "OCC/26/000101"},
        )
        return session.scalars(select(DataQualityItemRow.id)).one()


def resolve_at_once(db: Database, item_id: int) -> dict[str, Any]:
    """Both people press the button together: two threads, each in its own session of the store's factory."""
    start = threading.Barrier(len(PEOPLE))
    outcomes: dict[str, Any] = {}

    def resolve(username: str) -> None:
        start.wait(timeout=30)
        try:
            with db.session() as session:
                resolve_item(session, item_id, username, {"note": f"Checked by {username}."})
            outcomes[username] = "resolved"
        except BusinessError as error:
            outcomes[username] = error

    threads = [threading.Thread(target=resolve, args=(username,)) for username in PEOPLE]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_people_resolving_at_once_make_one_resolution(db: Database, item_id: int) -> None:
    """One resolves and is audited; the other is refused with who resolved it and when; one note is kept."""
    outcomes = resolve_at_once(db, item_id)
    winner = next(username for username, outcome in outcomes.items() if outcome == "resolved")
    loser = next(outcome for outcome in outcomes.values() if outcome != "resolved")
    with db.session() as session:
        item = session.get_one(DataQualityItemRow, item_id)
        events = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "data_quality.resolved")).all()
        assert ("resolved", winner, {"note": f"Checked by {winner}."}) == (
            item.status,
            item.resolved_by,
            item.resolution,
        )
        assert [winner] == [event.actor for event in events]
        assert ("already_resolved", already_resolved(item)) == (loser.code, loser.message)


def test_resolving_an_item_resolved_since_the_page_was_opened_is_refused(db: Database, item_id: int) -> None:
    """Both saw it open; the second to save, in a later session, changes nothing and is told who was first."""
    with db.session() as session:
        resolve_item(session, item_id, "alex.reviewer", {"note": "Fixed in the records system."})
    with pytest.raises(BusinessError) as caught, db.session() as session:
        resolve_item(session, item_id, "sam.reviewer", {"note": "Also fixed."})
    with db.session() as session:
        item = session.get_one(DataQualityItemRow, item_id)
        assert ("alex.reviewer", {"note": "Fixed in the records system."}) == (item.resolved_by, item.resolution)
    assert caught.value.message.startswith(f"Item #{item_id} was already resolved by alex.reviewer at ")


def test_the_refusal_says_who_and_when_in_london_time() -> None:
    """Today's resolution gives the time; an older one the date too."""
    item = DataQualityItemRow(id=7, resolved_by="alex.reviewer", resolved_at=datetime(2026, 6, 1, 13, 5, tzinfo=UTC))
    assert "Item #7 was already resolved by alex.reviewer at 14:05; nothing was changed." == already_resolved(
        item, now=datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    )
    assert "Item #7 was already resolved by alex.reviewer at 14:05 on 01/06/2026; nothing was changed." == (
        already_resolved(item, now=datetime(2026, 6, 2, 9, 0, tzinfo=UTC))
    )
