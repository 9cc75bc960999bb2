"""Information Sharing Requests: read new ones from the partner portal, look each subject up, draft the response.

The lookup searches the records system for each named subject (records not yet read are read and stored
on the way, then triaged like any other), then answers from the store: per subject the incidents found,
described without identifying anyone else, or "no trace".
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from bots.isr_portal import IsrPortalBot
from bots.isr_portal.parse import validate_request
from bots.records_system import RecordsBot
from tasks.triage import queue_triage
from vhub import logs, redaction
from vhub.context import current
from vhub.drafting import draft_isr_response, load_drafting_config, summarise_for_subject
from vhub.errors import BusinessError
from vhub.intake import Invalid, keep_invalid, read_valid
from vhub.isr import IsrRequest, SubjectFinding
from vhub.models import LONDON, validate_incident
from vhub.store.drafts import dedupe_key, save_draft
from vhub.store.incidents import has_version, save_incident
from vhub.store.isr import incidents_of, known_request_ids, request_row, save_request
from vhub.store.tables import DraftRow, utcnow
from vhub.triage import load_config
from vhub.triage.blocking import blocked_by_invalid_record, blocked_by_invalid_request
from vhub.triage.model import Recipient, RecipientKind

SYSTEM = "isr_portal"
log = logs.get_logger(__name__)


def start_isr_scan() -> str:
    """The scheduler's entry point: queue a read of the portal's open requests."""
    job = current().jobs.enqueue("isr_scan", isr_scan, description="read new information sharing requests")
    return job.id


def _system_id(request_id: str) -> int:
    """A number for the request's data-quality item: ISR-2026-00012 -> 202600012, unique across years."""
    digits = "".join(char for char in request_id if char.isdigit())[:9]
    return int(digits) if digits else 0


def isr_scan() -> dict[str, Any]:
    """Read every open request not yet kept, keep it, and queue its lookup. An invalid request is read again
    at each scan (the partner may have corrected it) but becomes a data-quality item only once."""
    ctx = current()
    logs.bind(system=SYSTEM, step="isr scan")
    bot = IsrPortalBot(ctx.settings)
    with ctx.db.session() as session:
        known = known_request_ids(session)
    new = [request_id for request_id in bot.list_open_requests() if request_id not in known]
    invalid = 0
    for request_id in new:
        request = read_valid(partial(bot.read_raw_request, request_id), validate_request)
        if isinstance(request, Invalid):
            with ctx.db.session() as session:
                invalid += keep_invalid(
                    session,
                    request,
                    system=SYSTEM,
                    system_id=_system_id(request_id),
                    reference=request_id,
                    version=None,  # the portal gives requests no version: what was read stands in for one
                    actor="isr_intake",
                    blocked=partial(blocked_by_invalid_request, config=load_config()),
                )
            continue
        with ctx.db.session() as session:
            save_request(session, request)
        ctx.jobs.enqueue("isr_lookup", isr_lookup, request_id, description=f"look up {request_id}")
    log.info("information sharing requests read", new=len(new), newly_invalid=invalid)
    return {"new": len(new)}


def _read_into_store(records: RecordsBot, system_id: int, reference: str, version: datetime) -> str:
    """Read one incident found by a person search and store it (the same checks as an ingest)."""
    ctx = current()
    incident = read_valid(lambda: records.read_incident(system_id), validate_incident)
    if isinstance(incident, Invalid):
        with ctx.db.session() as session:
            keep_invalid(
                session,
                incident,
                system="records_system",
                system_id=system_id,
                reference=reference,
                version=version,
                actor="isr_lookup",
                blocked=partial(blocked_by_invalid_record, config=load_config()),
            )
        return "invalid"
    with ctx.db.session() as session:
        outcome = save_incident(session, incident, source_system="records_system", actor="isr_lookup")
    if outcome == "new":
        queue_triage(incident.reference, incident.last_modified)
    return outcome


def isr_lookup(request_id: str) -> dict[str, Any]:
    """Search the records system for each named subject, then draft the response from the store."""
    ctx = current()
    logs.bind(system=SYSTEM, step="isr lookup", reference=request_id)
    with ctx.db.session() as session:
        row = request_row(session, request_id)
        if row is None:
            raise BusinessError(f"Request {request_id} is not in the store; read it from the portal first.")
        request = IsrRequest.model_validate(row.request)
    redaction.remember_record(request)
    records = RecordsBot(ctx.settings)
    for subject in request.subjects:
        for listed in records.search_person(subject.forename, subject.surname, subject.date_of_birth):
            with ctx.db.session() as session:
                stored = has_version(session, listed.reference, listed.last_modified)
            if not stored:
                _read_into_store(records, listed.system_id, listed.reference, listed.last_modified)
    findings = []
    with ctx.db.session() as session:
        for subject in request.subjects:
            incidents = incidents_of(session, subject)
            redaction.remember_record([incident for incident, _ in incidents])
            findings.append(
                SubjectFinding(
                    subject_id=subject.subject_id,
                    forename=subject.forename,
                    surname=subject.surname,
                    date_of_birth=subject.date_of_birth,
                    incidents=tuple(summarise_for_subject(incident, nominal) for incident, nominal in incidents),
                )
            )
        row = request_row(session, request_id)
        assert row is not None
        row.status = "looked_up"
        row.looked_up_at = utcnow()
        row.findings = [finding.model_dump(mode="json") for finding in findings]
        content = draft_isr_response(request, findings, load_drafting_config())
        policy = load_config().policy
        deadline = datetime.combine(request.due_date, policy.deadlines.working_day_end, tzinfo=LONDON).astimezone(UTC)
        soon = (deadline - utcnow()).total_seconds() <= policy.priority.raise_within_hours * 3600
        unnamed = [s.subject_id for s in request.subjects if s.date_of_birth is None]
        draft, created = save_draft(
            session,
            DraftRow(
                dedupe_key=dedupe_key("isr_response", request_id, "request", None),
                workflow="isr_response",
                source_ref=request_id,
                source_version=None,
                isr_request_id=row.id,
                subject="request",
                title=content.title,
                recipient=Recipient(
                    kind=RecipientKind.isr_requester, authority=request.requester_authority, name=request.requester
                ).model_dump(mode="json"),
                recipient_name=request.requester,
                authority=request.requester_authority,
                risk=None,
                priority="high" if soon else "default",
                deadline=deadline,
                reasons=[f"{request.purpose} ({request.lawful_basis}): due {request.due_date:%d/%m/%Y}"],
                payload=content.payload,
                text=content.text,
                needs_attention=bool(unnamed),
                attention_reason=(
                    f"Subject(s) {', '.join(unnamed)} have no date of birth: the search matched by name alone. "
                    "Confirm each person's identity before approving."
                )
                if unnamed
                else None,
            ),
            actor="isr_lookup",
        )
    found = sum(len(finding.incidents) for finding in findings)
    log.info("information sharing request drafted", draft_id=draft.id, created=created, incidents=found)
    return {"request_id": request_id, "draft_id": draft.id, "incidents": found}
