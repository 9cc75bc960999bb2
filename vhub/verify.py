"""`vhub verify`: the invariants of docs/architecture.md checked against the store, the queues and the partners.

Each check gives its figure and the breaches it found (references and ids only, never a person's details):

- every incident version the records system lists is stored, still queued, or kept for a person with a reason
  (a data-quality item, or a failed job with its reason), unless it changed after the last scan;
- no submission appears twice at any partner, and every draft vhub sent is in the partner's own records;
- every sent draft was approved, on the version sent, by as many different named people as its risk needs;
- every sent draft's audit trail is unbroken: created, each status move one the draft's life allows, from the
  status the last move left, ending at sent, with an audited approval by each approver;
- every failed job has a reason a person can read, and a bot's job that failed on a page of another system left
  the evidence of it (screenshot, page, trace) an admin is shown;
- every children's services decision stored is one the front door recorded; no escalation is left
  open on a decided referral, and no referral is overdue by more than a decision check without its escalation.

A check that cannot be made here (a live portal that offers no read-only list) says so and is not a pass.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from vhub.evidence import EvidenceStore
from vhub.failed import FailedJob, list_failed
from vhub.mou import MouConfig, mou_config
from vhub.queues import Jobs
from vhub.store.draft_status import ALLOWED, APPROVALS, DraftStatus, approvals_needed
from vhub.store.partner_decisions import open_referrals, sent_referrals
from vhub.store.runs import ListedVersion, get_watermark
from vhub.store.tables import (
    AuditEventRow,
    DataQualityItemRow,
    DecisionEscalationRow,
    DecisionRow,
    DraftRow,
    IncidentRow,
    PartnerDecisionRow,
    ScanItemRow,
    SubmissionRow,
    UserRow,
    utcnow,
)

SYSTEM = "records_system"
SHOWN = 20
"""Breaches listed by each check; the figure counts them all."""

PartnerRecords = dict[str, list[str | None]]
"""Each partner portal's own records: the submission key of every submission it holds (None: no key found)."""
PartnerDecisions = dict[str, dict[str, list[tuple[str, datetime]]]]
"""Each front door's own record of its decisions: portal -> its reference -> (outcome, decided at), first first."""
ESCALATION_GRACE = timedelta(hours=2)
"""How long past a step's time an overdue referral may wait for its escalation: the decision check runs hourly."""


@dataclass
class Check:
    name: str
    figure: str
    breaches: list[str] = field(default_factory=list)
    checked: bool = True  # False: the check could not be made here; the figure says why

    @property
    def passed(self) -> bool:
        """No breach found (a check not made has none, and says so)."""
        return not self.breaches


def incidents_accounted_for(session: Session, listed: Iterable[ListedVersion], failed_job_ids: set[str]) -> Check:
    """Every listed version is stored (or a later one is), queued, or kept for a person with a reason."""
    stored: dict[str, datetime] = {}
    for reference, last_modified in session.execute(select(IncidentRow.reference, IncidentRow.last_modified)):
        stored[reference] = max(last_modified, stored.get(reference, last_modified))
    items: dict[tuple[str, datetime], list[tuple[str, str | None]]] = defaultdict(list)
    for reference, version, status, job_id in session.execute(
        select(ScanItemRow.reference, ScanItemRow.last_modified, ScanItemRow.status, ScanItemRow.job_id)
    ):
        items[(reference, version)].append((status, job_id))
    kept = {
        (reference, version)
        for reference, version, reasons in session.execute(
            select(DataQualityItemRow.reference, DataQualityItemRow.version, DataQualityItemRow.reasons).where(
                DataQualityItemRow.source_system == SYSTEM
            )
        )
        if reasons
    }
    watermark = get_watermark(session, SYSTEM)
    counts: Counter[str] = Counter()
    breaches = []
    for item in listed:
        key = (item.reference, item.last_modified)
        statuses = items.get(key, [])
        if item.reference in stored and stored[item.reference] >= item.last_modified:
            counts["stored"] += 1
        elif key in kept:
            counts["kept for a person"] += 1
        elif any(status == "failed" and job_id in failed_job_ids for status, job_id in statuses):
            counts["failed, waiting for replay"] += 1
        elif any(status == "pending" for status, _ in statuses):
            counts["queued"] += 1
        elif not statuses and (watermark is None or item.last_modified > watermark):
            counts["changed after the last scan"] += 1
        else:
            counts["missing"] += 1
            breaches.append(f"{item.reference} (version of {item.last_modified.isoformat()}) is not accounted for")
    total = sum(counts.values())
    parts = ", ".join(f"{counts[name]:,} {name}" for name in sorted(counts, key=lambda name: (-counts[name], name)))
    return Check(
        "incidents accounted for", f"{total:,} versions listed by the records system: {parts or 'none'}", breaches
    )


def held_twice(partners: PartnerRecords) -> dict[str, dict[str, int]]:
    """Each partner's submission keys it holds more than once, with how many times."""
    twice: dict[str, dict[str, int]] = {}
    for portal, keys in partners.items():
        held = Counter(key for key in keys if key)
        twice[portal] = {key: count for key, count in sorted(held.items()) if count > 1}
    return twice


def partner_records_match(session: Session, partners: PartnerRecords | None) -> Check:
    """No key twice at any partner; every draft vhub recorded as sent is in the partner's own records."""
    name = "no submission twice at a partner"
    if partners is None:
        return Check(
            name,
            "not checked: the live portals offer vhub no read-only list of what they hold",
            checked=False,
        )
    sent: dict[str, set[str]] = defaultdict(set)
    for portal, key in session.execute(
        select(SubmissionRow.portal, SubmissionRow.key).where(SubmissionRow.status == "sent")
    ):
        sent[portal].add(key)
    breaches = []
    held_total = 0
    twice = held_twice(partners)
    for portal in sorted(set(partners) | set(sent)):
        held = set(partners.get(portal, []))
        held_total += len(partners.get(portal, []))
        breaches += [f"{portal} holds submission {key} {count} times" for key, count in twice.get(portal, {}).items()]
        breaches += [
            f"{portal} has no record of submission {key}, which vhub recorded as sent"
            for key in sorted(sent[portal] - held)
        ]
    figure = (
        f"{sum(len(keys) for keys in sent.values()):,} sent by vhub; {held_total:,} held by {len(partners)} partners"
    )
    return Check(name, figure, breaches)


def sent_drafts_approved(session: Session, *, second_approver_for_red: bool) -> Check:
    """Each sent draft approved on its sent version by as many different named people as its risk needs."""
    drafts = session.scalars(select(DraftRow).where(DraftRow.status == DraftStatus.SENT.value)).all()
    names = {
        user_id: (username, display_name)
        for user_id, username, display_name in session.execute(
            select(UserRow.id, UserRow.username, UserRow.display_name)
        )
    }
    approvals: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for draft_id, user_id, content_version in session.execute(
        select(DecisionRow.draft_id, DecisionRow.user_id, DecisionRow.content_version).where(
            DecisionRow.decision.in_(APPROVALS),
            DecisionRow.draft_id.in_(select(DraftRow.id).where(DraftRow.status == DraftStatus.SENT.value)),
        )
    ):
        approvals[draft_id].append((user_id, content_version))
    breaches = []
    for draft in drafts:
        people = list(dict.fromkeys(user for user, version in approvals[draft.id] if version == draft.content_version))
        named = [user for user in people if user in names and names[user][1].strip()]
        needed = approvals_needed(draft, second_approver_for_red=second_approver_for_red)
        if len(named) < needed:
            breaches.append(
                f"draft #{draft.id} ({draft.risk or 'no'} risk) was sent with {len(named)} named approval(s) of the "
                f"version sent (version {draft.content_version}); it needs {needed}"
            )
    return Check("sent drafts approved by named people", f"{len(drafts):,} sent drafts", breaches)


def audit_trails_unbroken(session: Session) -> Check:
    """Each sent draft's audit trail: created awaiting review, each move allowed and from where the last left it,
    ending at sent, with an audited approval by each person whose decision approved the sent version."""
    sent_ids = [
        str(draft_id)
        for draft_id in session.scalars(select(DraftRow.id).where(DraftRow.status == DraftStatus.SENT.value))
    ]
    events: dict[str, list[AuditEventRow]] = defaultdict(list)
    for event in session.scalars(
        select(AuditEventRow)
        .where(
            AuditEventRow.entity_type == "draft",
            AuditEventRow.entity_id.in_(
                select(cast(DraftRow.id, String)).where(DraftRow.status == DraftStatus.SENT.value)
            ),
        )
        .order_by(AuditEventRow.id)
    ):
        events[event.entity_id].append(event)
    approvers: dict[str, set[str]] = defaultdict(set)
    for draft_id, username in session.execute(
        select(DecisionRow.draft_id, UserRow.username)
        .join(UserRow, UserRow.id == DecisionRow.user_id)
        .join(DraftRow, DraftRow.id == DecisionRow.draft_id)
        .where(
            DecisionRow.decision.in_(APPROVALS),
            DecisionRow.content_version == DraftRow.content_version,
            DraftRow.status == DraftStatus.SENT.value,
        )
    ):
        approvers[str(draft_id)].add(username)
    breaches = []
    for sent_id in sent_ids:
        problem = _trail_problem(events[sent_id], approvers[sent_id])
        if problem:
            breaches.append(f"draft #{sent_id}: {problem}")
    return Check("audit trails of sent drafts unbroken", f"{len(sent_ids):,} trails read", breaches)


def _trail_problem(trail: list[AuditEventRow], approvers: set[str]) -> str | None:
    if not trail or trail[0].action != "draft.created":
        return "its trail does not begin with its creation"
    status = DraftStatus((trail[0].after or {}).get("status", DraftStatus.AWAITING_REVIEW.value))
    audited_approvers = set()
    for event in trail[1:]:
        before, after = event.before or {}, event.after or {}
        if event.action in ("draft.first_approval", "draft.approved"):
            audited_approvers.add(event.actor)
        if "status" not in after:
            continue
        moved_from = DraftStatus(before.get("status", status.value))
        moved_to = DraftStatus(after["status"])
        if moved_from is not status:
            return f"a move from {moved_from.value} follows one that left it {status.value} (event {event.id})"
        if moved_to is not moved_from and moved_to not in ALLOWED[moved_from]:
            return (
                f"a move from {moved_from.value} to {moved_to.value} the draft's life does not allow (event {event.id})"
            )
        status = moved_to
    if status is not DraftStatus.SENT:
        return f"its trail ends at {status.value}, not sent"
    if missing := approvers - audited_approvers:
        return f"{len(missing)} approval(s) of the sent version have no audit event"
    return None


BOT_JOBS = frozenset(
    {
        "tasks.ingest.scan",
        "tasks.ingest.ingest",
        "tasks.submit.submit_draft",
        "tasks.isr.isr_scan",
        "tasks.isr.isr_lookup",
    }
)
"""The jobs whose work is a bot's on another system's pages."""
ON_A_PAGE = re.compile(r"\b(SystemUnavailable|SessionExpired|SelectorDrift|SubmissionUnconfirmed)\b")
"""The errors a bot raises from a page it was working on (the browser keeps evidence of each). A job that failed
for another reason (its worker killed, the store or Redis unreachable) may never have opened a page."""


def failed_jobs_explained(failed: list[FailedJob], evidence: EvidenceStore | None = None) -> Check:
    """Each failed job has a reason; each bot's job that failed on a page left evidence in the ``evidence`` store
    the settings name, folders or the database (not looked for when None)."""
    breaches = [
        f"failed job {job.id} ({job.function}) has no reason recorded"
        for job in failed
        if job.reason in ("", "no error recorded")
    ]
    on_a_page = [job for job in failed if job.function in BOT_JOBS and ON_A_PAGE.search(job.reason)]
    figure = f"{len(failed):,} failed jobs"
    if evidence is not None:
        breaches += [
            f"failed job {job.id} ({job.function}) failed on a page of another system but left no evidence"
            for job in on_a_page
            if not evidence.of_job(job.id)
        ]
        figure += f", {len(on_a_page):,} of them on a page of another system (evidence looked for)"
    return Check("failed jobs explained", figure, breaches)


def decisions_match_partners(
    session: Session, partners: PartnerDecisions | None, mou: MouConfig, now: datetime
) -> Check:
    """Each decision stored is one its front door recorded (when the front doors' records can be read; the store's
    unique key holds each once); no escalation open on a decided referral; no undecided referral overdue past the
    grace without its first step."""
    stored = session.execute(
        select(
            PartnerDecisionRow.draft_id,
            SubmissionRow.portal,
            PartnerDecisionRow.partner_reference,
            PartnerDecisionRow.outcome,
            PartnerDecisionRow.decided_at,
        ).join(SubmissionRow, SubmissionRow.draft_id == PartnerDecisionRow.draft_id)
    ).all()
    decided = {row.draft_id for row in stored}
    left_open = session.execute(
        select(DecisionEscalationRow.draft_id, DecisionEscalationRow.step).where(
            DecisionEscalationRow.closed_at.is_(None), DecisionEscalationRow.draft_id.in_(decided)
        )
    ).all()
    breaches = [
        f"draft #{draft_id}: escalation step {step} is open, but its decision is stored" for draft_id, step in left_open
    ]
    escalated = set(session.scalars(select(DecisionEscalationRow.draft_id)))
    undecided = open_referrals(session)
    for referral in undecided:
        due = mou.due(referral.authority, referral.risk, referral.sent_at)
        if now - mou.step_due(due, 0) > ESCALATION_GRACE and referral.draft_id not in escalated:
            breaches.append(
                f"draft #{referral.draft_id} ({referral.partner_reference}): no decision, due {due.isoformat()}, and "
                "not escalated"
            )
    sent = len(session.execute(sent_referrals()).all())
    figure = f"{sent:,} referrals sent: {len(decided):,} decided ({len(stored):,} decisions), {len(undecided):,} open"
    if partners is None:
        figure += "; not compared with the front doors (live portals offer vhub no read-only list of decisions)"
    else:
        unknown = [
            f"draft #{draft_id}: {portal} has no record of its decision {outcome} of {decided_at.isoformat()}"
            for draft_id, portal, reference, outcome, decided_at in stored
            if (outcome, decided_at) not in partners.get(portal, {}).get(reference, [])
        ]
        unread = sum(
            1
            for referral in undecided
            if partners.get(f"referral_{referral.authority}", {}).get(referral.partner_reference)
        )
        breaches += unknown
        figure += f"; every one compared with its front door's record ({unread:,} open ones decided there, to be read)"
    return Check("partner decisions as the front doors recorded them", figure, breaches)


def verify(
    session: Session,
    jobs: Jobs,
    *,
    listed: Iterable[ListedVersion] | None,
    partners: PartnerRecords | None,
    second_approver_for_red: bool,
    evidence: EvidenceStore | None = None,
    decisions: PartnerDecisions | None = None,
    mou: MouConfig | None = None,
    now: datetime | None = None,
) -> list[Check]:
    """Every check; ``listed``: what the records system lists (None: not read, the check says so);
    ``evidence``: where failed jobs' evidence is kept (None: not looked for); ``decisions``: the front doors' own
    records of their decisions (None: not compared); ``mou``: config/mou.toml (None: read here)."""
    failed = list_failed(jobs)  # read once: the source check and the failed-job check both use it
    failed_ids = {job.id for job in failed}
    source = (
        incidents_accounted_for(session, listed, failed_ids)
        if listed is not None
        else Check("incidents accounted for", "not checked: the records system was not read", checked=False)
    )
    return [
        source,
        partner_records_match(session, partners),
        sent_drafts_approved(session, second_approver_for_red=second_approver_for_red),
        audit_trails_unbroken(session),
        failed_jobs_explained(failed, evidence),
        decisions_match_partners(session, decisions, mou or mou_config(), now or utcnow()),
    ]


def render(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        mark = "FAIL" if check.breaches else "ok" if check.checked else "--"
        lines.append(f"{mark:<4} {check.name}: {check.figure}")
        if check.breaches:
            lines.append(f"      {len(check.breaches):,} breach(es):")
            lines += [f"        {breach}" for breach in check.breaches[:SHOWN]]
            if len(check.breaches) > SHOWN:
                lines.append(f"        ... and {len(check.breaches) - SHOWN:,} more (all in --json)")
    unchecked = sum(1 for check in checks if not check.checked)
    if not all(check.passed for check in checks):
        verdict = "Invariants do NOT all hold: each breach above names what to look at."
    elif unchecked:
        verdict = f"No breach found; {unchecked} check(s) could not be made here (marked --)."
    else:
        verdict = "All invariants hold."
    return "\n".join([*lines, verdict]) + "\n"


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {
        "passed": all(check.passed for check in checks),
        "checks": [
            {"name": c.name, "passed": c.passed, "checked": c.checked, "figure": c.figure, "breaches": c.breaches}
            for c in checks
        ],
    }
