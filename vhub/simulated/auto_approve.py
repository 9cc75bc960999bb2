"""The demo's explicit auto-approval, and counting what each partner portal itself received.

Only `vhub demo --auto-approve` uses this. Every approval is recorded against the account
"auto-approve (demo)", so the audit trail shows no person approved them. The demo runs that flag with
one approver for red risk (VHUB_REVIEW_SECOND_APPROVER_FOR_RED=false, printed in its summary): a red draft
gets the one approval, which the flag makes explicit; with two required it would wait for a person.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from vhub.context import AppContext
from vhub.review.accounts import User, add_user
from vhub.review.decisions import approve
from vhub.store.audit import record_event
from vhub.store.tables import DraftRow, SubmissionRow, UserRow, utcnow

AUTO_APPROVER = ("auto-approve", "auto-approve (demo)")


def auto_approver(ctx: AppContext) -> User:
    username, display_name = AUTO_APPROVER
    with ctx.db.session() as session:
        row = session.scalar(select(UserRow).where(UserRow.username == username))
        if row is not None:
            return User(row.id, row.username, row.display_name, row.role)
        user = add_user(session, username, secrets.token_urlsafe(24), "reviewer", display_name, actor="demo")
        record_event(
            session,
            actor="demo",
            action="demo.auto_approve_enabled",
            entity_type="user",
            entity_id=username,
            after={"note": "vhub demo --auto-approve: drafts approved without a person"},
        )
        return user


def approve_all(ctx: AppContext) -> int:
    """Approve every draft awaiting review as the demo's auto-approver; returns how many."""
    user = auto_approver(ctx)
    with ctx.db.session() as session:
        waiting = list(
            session.execute(
                select(DraftRow.id, DraftRow.row_version)
                .where(DraftRow.status == "awaiting_review")
                .order_by(DraftRow.deadline)
            )
        )
    for draft_id, row_version in waiting:
        with ctx.db.session() as session:
            approve(
                session,
                draft_id,
                user,
                row_version,
                now=utcnow(),
                jobs=ctx.jobs,
                second_approver_for_red=ctx.settings.review_second_approver_for_red,
            )
    return len(waiting)


def partner_records(urls: dict[str, str]) -> dict[str, list[str | None]]:
    """What each simulated partner portal holds, by its own admin endpoint: the submission key of each item."""
    records: dict[str, list[str | None]] = {}
    for name, url in sorted(urls.items()):
        if name == "records_system":
            continue
        response = httpx.get(f"{url}/_admin/submissions", timeout=30)
        if response.status_code == 404:
            continue
        response.raise_for_status()
        records[name] = [item.get("key") for item in response.json()["submissions"]]
    return records


def partner_decisions(urls: dict[str, str]) -> dict[str, dict[str, list[tuple[str, datetime]]]]:
    """Every decision each simulated front door has recorded, by its own admin endpoint: portal -> its reference ->
    (outcome, decided at), first first."""
    found: dict[str, dict[str, list[tuple[str, datetime]]]] = {}
    for name, url in sorted(urls.items()):
        if not name.startswith("referral_"):
            continue
        response = httpx.get(f"{url}/_admin/decisions", timeout=30)
        if response.status_code == 404:
            continue
        response.raise_for_status()
        found[name] = {
            item["reference"]: [
                (decision["outcome"], datetime.fromisoformat(decision["decided_at"])) for decision in item["decisions"]
            ]
            for item in response.json()["decisions"]
        }
    return found


def portal_counts(urls: dict[str, str]) -> dict[str, Any]:
    """What each portal holds, and any key it holds twice."""
    records = partner_records(urls)
    duplicates = {}
    for name, keys in records.items():
        counts = Counter(key for key in keys if key)
        duplicates[name] = sum(count - 1 for count in counts.values() if count > 1)
    return {
        "submissions_by_portal": {name: len(keys) for name, keys in records.items()},
        "duplicates_in_portals": duplicates,
    }


def sent_by_portal(ctx: AppContext) -> dict[str, int]:
    with ctx.db.session() as session:
        rows = session.execute(
            select(SubmissionRow.portal, func.count())
            .where(SubmissionRow.status == "sent")
            .group_by(SubmissionRow.portal)
        ).all()
    return {portal: count for portal, count in rows}
