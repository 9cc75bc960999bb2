"""`vhub verify` on the embedded stack: every invariant holds after a run sent end to end, and each kind of breach
is found and named. The same run's sent referrals are the population the referral audit's monthly sample is drawn
from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from tasks.referral_audit import draw_audit_sample
from tests.integration.conftest import RunningStack, running_stack
from vhub.clock import uk_at
from vhub.models import LONDON
from vhub.referral_audit import audit_config
from vhub.reports.mou import month_bounds
from vhub.simulated.auto_approve import approve_all
from vhub.store.referral_audits import sampled
from vhub.store.tables import AuditEventRow, AuditSampleRow, DecisionRow, DraftRow, IncidentRow, SubmissionRow

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

ONE_APPROVER = {"VHUB_REVIEW_SECOND_APPROVER_FOR_RED": "false"}


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, Path]]:
    """20 incidents scanned, triaged and drafted, every draft approved and sent to the simulated portals."""
    tmp = tmp_path_factory.mktemp("verify")
    with running_stack(tmp, incidents=20, seed=7, database_url="", env=ONE_APPROVER) as stack:
        stack.activate()
        stack.scan()
        stack.wait_quiet()
        assert approve_all(stack.ctx) > 0
        stack.wait_quiet()
        yield stack, tmp / "var"


def verify(data_dir: Path, *options: str) -> tuple[int, dict[str, Any], str]:
    report = data_dir.parent / "verify.json"
    result = subprocess.run(
        [sys.executable, "-m", "vhub", "verify", "--json", str(report), *options],
        capture_output=True,
        text=True,
        timeout=180,
        env={"VHUB_DATA_DIR": str(data_dir), "PATH": os.environ["PATH"], **ONE_APPROVER},
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    checks = {check["name"]: check for check in json.loads(report.read_text())["checks"]}
    return result.returncode, checks, result.stdout


def test_after_a_clean_run_every_invariant_holds_and_each_check_gives_its_figure(
    sent: tuple[RunningStack, Path],
) -> None:
    """Every listed incident accounted for, each sent draft once at its partner, approved and audited: exit 0."""
    stack, data_dir = sent
    with stack.ctx.db.session() as session:
        sent_count = len(session.scalars(select(DraftRow.id).where(DraftRow.status == "sent")).all())
    code, checks, out = verify(data_dir)
    assert 0 == code, out
    assert all(check["checked"] and check["passed"] and not check["breaches"] for check in checks.values())
    assert checks["incidents accounted for"]["figure"].startswith("20 versions listed by the records system: ")
    assert checks["no submission twice at a partner"]["figure"].startswith(f"{sent_count:,} sent by vhub; ")
    assert f"{sent_count:,} sent drafts" == checks["sent drafts approved by named people"]["figure"]
    assert "All invariants hold." in out


def test_each_kind_of_breach_is_found_named_and_fails_the_command(sent: tuple[RunningStack, Path]) -> None:
    """A stored incident gone, a send the partner never received, an approval of another version and a move the
    draft's life does not allow in its audit trail are each reported by reference or id, and the command exits 1."""
    stack, data_dir = sent
    with stack.ctx.db.session() as session:
        incident = session.scalars(select(IncidentRow).order_by(IncidentRow.id)).first()
        draft = session.scalars(select(DraftRow).where(DraftRow.status == "sent").order_by(DraftRow.id)).first()
        other = session.scalars(select(DraftRow).where(DraftRow.status == "sent").order_by(DraftRow.id.desc())).first()
        assert incident is not None and draft is not None and other is not None and draft.id != other.id
        reference = incident.reference
        session.execute(update(IncidentRow).where(IncidentRow.id == incident.id).values(reference="OCC/00/000000"))
        session.execute(update(SubmissionRow).where(SubmissionRow.draft_id == draft.id).values(key="never-sent"))
        session.execute(
            update(DecisionRow)
            .where(DecisionRow.draft_id == draft.id)
            .values(content_version=DecisionRow.content_version - 1)
        )
        # The trail is append-only; what can break it is a status written without its move: here, one recorded
        # as if a sent draft went back to review.
        session.add(
            AuditEventRow(
                actor="someone",
                action="draft.reopened",
                entity_type="draft",
                entity_id=str(other.id),
                before={"status": "sent"},
                after={"status": "awaiting_review"},
            )
        )
    code, checks, out = verify(data_dir)
    assert 1 == code
    assert [f"{reference} (version of "] == [
        breach[: len(reference) + 13] for breach in checks["incidents accounted for"]["breaches"]
    ]
    assert [
        f"{portal} has no record of submission never-sent, which vhub recorded as sent"
        for portal in [draft_portal(stack, draft.id)]
    ] == checks["no submission twice at a partner"]["breaches"]
    assert [f"draft #{draft.id} "] == [
        breach[: len(str(draft.id)) + 8] for breach in checks["sent drafts approved by named people"]["breaches"]
    ]
    assert [f"draft #{other.id}: a move from sent to awaiting_review the draft's life does not allow"] == [
        breach.split(" (event")[0] for breach in checks["audit trails of sent drafts unbroken"]["breaches"]
    ]
    assert "Invariants do NOT all hold" in out


def test_the_audit_sample_is_drawn_from_the_runs_sent_referrals(sent: tuple[RunningStack, Path]) -> None:
    """The scheduled draw on the 1st of next month samples this month's referrals the portals took (each with its
    front door's reference), all of them when fewer than the sample's size, with each one's authority, risk and
    reference as sent; drawn again, nothing changes."""
    stack, _ = sent
    stack.activate()
    today = datetime.now(UTC).astimezone(LONDON).date()
    month = f"{today:%Y-%m}"
    _, start, end = month_bounds(month)
    first_of_next = uk_at(end.astimezone(LONDON).date(), 8, 0)
    with stack.ctx.db.session() as session:
        referrals = {
            draft.id: (draft.authority, draft.risk, submission.partner_reference)
            for draft, submission in session.execute(
                select(DraftRow, SubmissionRow)
                .join(SubmissionRow, SubmissionRow.draft_id == DraftRow.id)
                .where(DraftRow.workflow == "referral", DraftRow.status == "sent", SubmissionRow.sent_at >= start)
            ).all()
        }
    summary = draw_audit_sample(first_of_next.isoformat())
    again = draw_audit_sample(first_of_next.isoformat())
    assert referrals and all(reference for _, _, reference in referrals.values())
    assert (month, True, len(referrals), min(len(referrals), audit_config().sample.size)) == (
        summary["month"],
        summary["drawn_now"],
        summary["population"],
        summary["sampled"],
    )
    assert (False, summary["drawn_at"]) == (again["drawn_now"], again["drawn_at"])
    with stack.ctx.db.session() as session:
        items = sampled(session, month)
        assert 1 == len(session.scalars(select(AuditSampleRow.id)).all())
    assert {item.draft_id: (item.authority, item.risk, item.partner_reference) for item in items}.items() <= (
        referrals.items()
    )


def draft_portal(stack: RunningStack, draft_id: int) -> str:
    with stack.ctx.db.session() as session:
        return session.scalars(select(SubmissionRow.portal).where(SubmissionRow.draft_id == draft_id)).one()
