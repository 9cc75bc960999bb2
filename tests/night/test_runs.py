"""`vhub runs list` and `vhub runs show`: runs as records, in UK time with the zone and no seconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests.night.conftest import ServedSink
from vhub import context
from vhub.cli import main
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.tables import IncidentRow, RunRow, ScanItemRow, TriageResultRow

STARTED = datetime(2026, 12, 1, 1, 0, 12, 345678, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 0, 30, 5, 1, tzinfo=UTC)


def scan_run(db: Database, make_draft: Callable[..., int]) -> int:
    with db.session() as session:
        session.add(
            RunRow(
                id="5e1f0c2a-0000-4000-8000-000000000001",
                kind="scheduled",
                system="records_system",
                found=3,
                status="complete",
                started_at=STARTED,
                finished_at=datetime(2026, 12, 1, 1, 7, 30, tzinfo=UTC),
            )
        )
        session.add(
            RunRow(id="a0000000-0000-4000-8000-000000000002", kind="manual", system="records_system", started_at=SUMMER)
        )
        session.flush()
        version = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
        for number, status in enumerate(("stored", "invalid", "failed")):
            session.add(
                ScanItemRow(
                    run_id="5e1f0c2a-0000-4000-8000-000000000001",
                    system="records_system",
                    reference=f"OCC/26/00000{number + 1}",
                    system_id=number,
                    last_modified=version,
                    status=status,
                )
            )
        incident = IncidentRow(
            source_system="records_system",
            reference="OCC/26/000001",
            system_id=0,
            last_modified=version,
            incident_type="Domestic",
            domestic_abuse=True,
            occurred_at=version,
            location_line1="-",
            location_town="-",
            location_postcode="-",
            officer="-",
        )
        session.add(incident)
        session.flush()
        session.add(
            TriageResultRow(
                incident_id=incident.id,
                reference="OCC/26/000001",
                version=version,
                risk="amber",
                score=60,
                priority="default",
                result={},
            )
        )
        incident_id = incident.id
    return make_draft(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), incident_id=incident_id)


def test_runs_list_and_show_read_in_uk_time(
    ctx: context.AppContext,
    settings: Settings,
    db: Database,
    make_draft: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sink: ServedSink,
) -> None:
    """A scan shows its counts per stage, its failures and its drafts at risk; times read "01/12/2026 01:00 GMT"
    (or BST in summer), never UTC with microseconds."""
    draft = scan_run(db, make_draft)
    monkeypatch.setenv("VHUB_DATA_DIR", str(settings.data_dir))

    assert 0 == main(["runs", "list"])
    listing = capsys.readouterr().out
    assert "5e1f0c2a  scan (scheduled)    01/12/2026 01:00 GMT  01/12/2026 01:07 GMT  complete         3" in listing
    assert "a0000000  scan (by hand)      01/07/2026 01:30 BST  -" in listing
    assert "345678" not in listing and "+00:00" not in listing

    assert 0 == main(["runs", "show", "5e1f0c2a"])
    shown = capsys.readouterr().out
    assert "Started:   01/12/2026 01:00 GMT" in shown and "Finished:  01/12/2026 01:07 GMT" in shown
    assert "listed                     3" in shown
    assert "read                       failed 1, invalid 1, stored 1" in shown
    assert "triaged                    1" in shown
    assert "drafted                    awaiting review 1" in shown
    assert "Failures:  1 incident version(s) could not be read" in shown
    assert f"draft #{draft} encompass, OCC/26/000001: due 30/11/2026 09:00 GMT" in shown


def test_an_unknown_run_is_refused_with_advice(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An id that matches no run says where to find the ids."""
    monkeypatch.setenv("VHUB_DATA_DIR", str(settings.data_dir))
    assert 2 == main(["runs", "show", "nope"])
    assert "There is no run 'nope'; `vhub runs list` shows the ids" in capsys.readouterr().err


def test_a_long_list_of_drafts_at_risk_is_cut_and_counted(
    ctx: context.AppContext,
    settings: Settings,
    db: Database,
    make_draft: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run with more drafts at risk than fit lists the soonest 20 and says how many more there are."""
    scan_run(db, make_draft)
    with db.session() as session:
        incident_id = session.scalars(select(IncidentRow.id)).one()
    for hour in range(22):
        make_draft(datetime(2026, 11, 29, hour, 0, tzinfo=UTC), incident_id=incident_id)
    monkeypatch.setenv("VHUB_DATA_DIR", str(settings.data_dir))
    assert 0 == main(["runs", "show", "5e1f0c2a"])
    shown = capsys.readouterr().out
    assert "Deadlines at risk (not sent, due within 4 hours or past): 23" in shown
    assert 20 == shown.count("    draft #")
    assert "    and 3 more (in the review queue, soonest deadline first)" in shown
