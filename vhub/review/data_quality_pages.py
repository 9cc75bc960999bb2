"""Data-quality items: records a person must look at. Correct the named fields, or resolve by hand.

A record that failed validation is corrected field by field (the fields its reasons name); once it
validates it is stored and triaged like any other. What triage could not decide (no school, an unknown
postcode, no age) is corrected for triage only: the stored version stays as the records system has it,
and triage runs again with the correction. Either way the item may instead be resolved with a note.
A correction must fill in every field it names. An item is resolved once: if two people resolve it at the
same moment, the second is told who was first and when, and nothing of theirs is kept. A request from the
ISR portal is corrected by the partner, in the portal, and resolved here by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tasks.triage import queue_triage, triage_incident
from vhub.corrections import corrected, get_path, reason_paths, require_values
from vhub.errors import BusinessError, InvalidRecord
from vhub.models import parse_uk_datetime, validate_incident
from vhub.review.queue import time_left
from vhub.review.record_labels import person_named, plain_label, plain_reason
from vhub.review.web import Web, page
from vhub.store.data_quality import already_resolved, resolve_item
from vhub.store.incidents import save_incident, to_model
from vhub.store.tables import DataQualityItemRow, IncidentRow, utcnow
from vhub.triage.config import load_config

# What a person can supply for each thing triage could not decide, and where it goes in the incident.
TRIAGE_FIELDS = {
    "no_school": ("school", "School (from the directory)"),
    "unknown_school": ("school", "School (from the directory)"),
    "age_unknown": ("date_of_birth", "Date of birth"),
    "unknown_postcode": ("address.postcode", "Postcode"),
}


def _context(web: Web, item: DataQualityItemRow) -> dict[str, Any]:
    """The record around the item: its incident's date and the people in it, by role, as read or as stored."""
    if item.source_system == "isr_portal":
        return {"occurred_at": None, "people": [person_named(s) for s in item.raw.get("subjects", []) or []]}
    record: dict[str, Any] = item.raw
    if item.source_system == "triage":
        with web.ctx.db.session(read_only=True) as session:
            row = session.scalar(
                select(IncidentRow).where(
                    IncidentRow.system_id == item.system_id, IncidentRow.last_modified == item.version
                )
            )
            record = to_model(row).model_dump(mode="json") if row else {}
    try:
        occurred_at = parse_uk_datetime(record.get("occurred_at"))
        when = occurred_at if isinstance(occurred_at, datetime) else datetime.fromisoformat(str(occurred_at))
    except ValueError:
        when = None
    people = record.get("people")
    return {"occurred_at": when, "people": [person_named(p) for p in people] if isinstance(people, list) else []}


def _fields(web: Web, item: DataQualityItemRow) -> list[dict[str, Any]]:
    """The fields the person can correct, with their current values. A request from the ISR portal is the
    partner's to correct (it is read again at every scan), so it offers none."""
    if item.source_system == "isr_portal":
        return []
    if item.source_system != "triage":
        return [
            {
                "path": path,
                "label": plain_label(path, item.raw),
                "value": get_path(item.raw, path) or "",
                "kind": "text",
                "message": None,
            }
            for path in reason_paths(item.reasons)
        ]
    with web.ctx.db.session(read_only=True) as session:
        row = session.scalar(
            select(IncidentRow).where(
                IncidentRow.system_id == item.system_id, IncidentRow.last_modified == item.version
            )
        )
        incident = to_model(row).model_dump(mode="json") if row else {}
    fields = []
    for problem in item.raw.get("problems", []):
        nominal = problem["subject"].split(":")[-1]
        index = next((i for i, p in enumerate(incident.get("people", [])) if p["nominal_ref"] == nominal), None)
        if problem["code"] not in TRIAGE_FIELDS or index is None:
            continue
        name, label = TRIAGE_FIELDS[problem["code"]]
        path = f"people[{index}].{name}"
        fields.append(
            {
                "path": path,
                "label": f"{label} of {person_named(incident['people'][index])}",
                "value": get_path(incident, path) or "",
                "kind": "school" if name == "school" else "date" if name == "date_of_birth" else "text",
                "message": problem["message"],
            }
        )
    return fields


def routes(web: Web) -> list[Route]:
    def show(
        web: Web, request: Request, problem: str | None = None, status: int = 200, typed: dict[str, str] | None = None
    ) -> Response:
        item_id = int(request.path_params["item_id"])
        with web.ctx.db.session(read_only=True) as session:
            item = session.get(DataQualityItemRow, item_id)
            if item is None:
                return web.message(request, 404, "Not found", f"There is no data-quality item #{item_id}.")
            session.expunge(item)
        fields = _fields(web, item)
        for field in fields:
            if typed and field["path"] in typed:
                field["value"] = typed[field["path"]]
        schools = sorted(school.name for school in load_config().schools.values())
        left, state = time_left(item.deadline, utcnow())
        return web.render(
            request,
            "review/data_quality.html.j2",
            status=status,
            item=item,
            fields=fields,
            schools=schools,
            problem=problem,
            reasons=[plain_reason(reason, item.raw) for reason in item.reasons],
            context=_context(web, item),
            time_left=left,
            state=state,
        )

    def view(web: Web, request: Request) -> Response:
        return show(web, request)

    def resolve(web: Web, request: Request) -> Response:
        """Whoever resolves an item second is told who was first and when; nothing of theirs is kept."""
        try:
            return decide(web, request)
        except BusinessError as error:
            if error.code != "already_resolved":
                raise
            return web.message(request, 409, "Already resolved", error.message)

    def decide(web: Web, request: Request) -> Response:
        item_id = int(request.path_params["item_id"])
        form = request.state.form
        user = request.state.signed.user
        note = str(form.get("note") or "").strip()
        with web.ctx.db.session() as session:
            item = session.get(DataQualityItemRow, item_id)
            if item is None:
                return web.message(request, 404, "Not found", f"There is no data-quality item #{item_id}.")
            if item.status != "open":
                return web.message(request, 409, "Already resolved", already_resolved(item))
            session.expunge(item)
        if form.get("action") == "dismiss":
            if not note:
                return show(web, request, "Say how it was resolved: the note is kept with the item.", 422)
            with web.ctx.db.session() as session:
                resolve_item(session, item.id, user.username, {"note": note})
            return RedirectResponse("/queue?done=resolved", status_code=303)
        typed = {f["path"]: str(form.get(f["path"]) or "") for f in _fields(web, item)}
        if not typed:
            return show(web, request, "There is no field to correct here: resolve it by hand with a note.", 422)
        try:
            corrections = require_values(typed)
        except InvalidRecord as error:
            return show(web, request, "; ".join(error.reasons), 422, typed=form)
        resolution = {"corrections": corrections, "note": note or None}
        if item.source_system == "triage":
            try:
                with web.ctx.db.session() as session:
                    row = session.scalars(
                        select(IncidentRow).where(
                            IncidentRow.system_id == item.system_id, IncidentRow.last_modified == item.version
                        )
                    ).one()
                    validate_incident(corrected(to_model(row).model_dump(mode="json"), corrections))
                    reference = row.reference
            except InvalidRecord as error:
                return show(web, request, "; ".join(error.reasons), 422, typed=form)
            with web.ctx.db.session() as session:
                resolve_item(session, item.id, user.username, resolution)
            web.ctx.jobs.enqueue(
                "triage",
                triage_incident,
                reference,
                item.version.isoformat(),
                True,
                description=f"triage {reference} again after a correction",
            )
            return RedirectResponse("/queue?done=corrected", status_code=303)
        try:
            incident = validate_incident(corrected(item.raw, corrections))
        except InvalidRecord as error:
            return show(web, request, "Still not valid: " + "; ".join(error.reasons), 422, typed=form)
        with web.ctx.db.session() as session:  # resolved and stored together: a second person stores nothing
            resolve_item(session, item.id, user.username, resolution)
            outcome = save_incident(session, incident, source_system=item.source_system, actor=user.username)
        if outcome == "new":
            queue_triage(incident.reference, incident.last_modified)
        return RedirectResponse("/queue?done=corrected", status_code=303)

    return [
        Route("/data-quality/{item_id:id}", page(web, view)),
        Route("/data-quality/{item_id:id}/resolve", page(web, resolve), methods=["POST"]),
    ]
