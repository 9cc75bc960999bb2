"""The audit trail for administrators: every event, filtered by draft, reference, user and dates, and as CSV."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.sql import Select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from vhub import csv_export
from vhub.review import dashboard
from vhub.review.web import Web, page
from vhub.store.tables import AuditEventRow, DataQualityItemRow, DraftRow, UserRow

AUDIT_PAGE_SIZE = 50
CSV_BATCH = 500
CSV_COLUMNS = ("at", "actor", "action", "entity_type", "entity_id", "run_id", "job_id", "before", "after")


@dataclass
class _AuditFilters:
    """The audit page's filters as typed, what they mean, and what is wrong with them."""

    typed: dict[str, str]
    draft_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None  # exclusive: the start of the day after the "to" date
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return self.typed["reference"]

    @property
    def actor(self) -> str:
        return self.typed["actor"]

    def query(self, **changes: Any) -> str:
        return urlencode({name: value for name, value in {**self.typed, **changes}.items() if value})


def _uk_date(text: str) -> date | None:
    """A date typed the UK way (14/03/2026) or as a date input sends it (2026-03-14)."""
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _audit_filters(params: Any) -> _AuditFilters:
    typed = {name: str(params.get(name) or "").strip() for name in ("draft", "reference", "actor", "from", "to")}
    filters = _AuditFilters(typed)
    if typed["draft"]:
        number = typed["draft"].lstrip("#")
        if re.fullmatch("[0-9]+", number):
            filters.draft_id = int(number)
        else:
            filters.errors["draft"] = "A draft number is digits only, for example 42."
    days: dict[str, date] = {}
    for name in ("from", "to"):
        if typed[name]:
            day = _uk_date(typed[name])
            if day is None:
                filters.errors[name] = "Enter the date as day/month/year, for example 14/03/2026."
            else:
                days[name] = day
    if "from" in days and "to" in days and days["from"] > days["to"]:
        filters.errors["to"] = "The 'to' date is before the 'from' date: swap them or change one."
    if "from" in days:
        filters.start = dashboard.london_day_start(days["from"])
    if "to" in days:
        filters.end = dashboard.london_day_start(days["to"] + timedelta(days=1))
    return filters


def _audit_query(filters: _AuditFilters) -> Select[AuditEventRow]:
    """The filtered events, newest first. A reference finds the incident's events and its drafts' and items'."""
    query = select(AuditEventRow)
    if filters.draft_id is not None:
        query = query.where(AuditEventRow.entity_type == "draft", AuditEventRow.entity_id == str(filters.draft_id))
    if filters.reference:
        drafts = select(cast(DraftRow.id, String)).where(DraftRow.source_ref == filters.reference)
        items = select(cast(DataQualityItemRow.id, String)).where(DataQualityItemRow.reference == filters.reference)
        query = query.where(
            or_(
                and_(
                    AuditEventRow.entity_type.in_(("incident", "isr_request")),
                    AuditEventRow.entity_id == filters.reference,
                ),
                and_(AuditEventRow.entity_type == "draft", AuditEventRow.entity_id.in_(drafts)),
                and_(AuditEventRow.entity_type == "data_quality_item", AuditEventRow.entity_id.in_(items)),
            )
        )
    if filters.actor:
        query = query.where(AuditEventRow.actor == filters.actor)
    if filters.start is not None:
        query = query.where(AuditEventRow.at >= filters.start)
    if filters.end is not None:
        query = query.where(AuditEventRow.at < filters.end)
    return query.order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc())


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[str, str | None, str | None]]:
    """(key, value before, value after) for every key of either side; None where a side has no value."""
    before, after = before or {}, after or {}
    keys = list(before) + [key for key in after if key not in before]
    return [
        (
            key,
            None if before.get(key) is None else _shown(before[key]),
            None if after.get(key) is None else _shown(after[key]),
        )
        for key in keys
    ]


def _link(event: AuditEventRow) -> str | None:
    if event.entity_type == "draft" and event.entity_id.isdigit():
        return f"/drafts/{event.entity_id}"
    if event.entity_type == "data_quality_item" and event.entity_id.isdigit():
        return f"/data-quality/{event.entity_id}"
    return None


def _audit(web: Web, request: Request) -> Response:
    filters = _audit_filters(request.query_params)
    try:
        page_number = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page_number = 1
    events: list[dict[str, Any]] = []
    total = 0
    with web.ctx.db.session(read_only=True) as session:
        actors = list(session.scalars(select(UserRow.username).order_by(UserRow.username)))  # suggestions only
        if not filters.errors:
            query = _audit_query(filters)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            page_number = min(page_number, max(1, -(-total // AUDIT_PAGE_SIZE)))
            for event in session.scalars(query.limit(AUDIT_PAGE_SIZE).offset((page_number - 1) * AUDIT_PAGE_SIZE)):
                events.append({"event": event, "link": _link(event), "changes": _changes(event.before, event.after)})
    return web.render(
        request,
        "review/audit.html.j2",
        status=422 if filters.errors else 200,
        filters=filters,
        events=events,
        total=total,
        page=page_number,
        pages=max(1, -(-total // AUDIT_PAGE_SIZE)),
        actors=actors,
    )


def _csv_line(event: AuditEventRow) -> str:
    as_json = {
        name: "" if getattr(event, name) is None else json.dumps(getattr(event, name), ensure_ascii=False, default=str)
        for name in ("before", "after")
    }
    return csv_export.line(
        [
            event.at,
            *(getattr(event, name) for name in ("actor", "action", "entity_type", "entity_id", "run_id", "job_id")),
            as_json["before"],
            as_json["after"],
        ]
    )


def _csv_lines(web: Web, filters: _AuditFilters) -> Iterator[str]:
    """The header, then the events in batches, newest first; each batch in its own short transaction."""
    yield csv_export.line(CSV_COLUMNS)
    last: tuple[datetime, int] | None = None
    while True:
        query = _audit_query(filters)
        if last is not None:
            at, event_id = last
            query = query.where(or_(AuditEventRow.at < at, and_(AuditEventRow.at == at, AuditEventRow.id < event_id)))
        with web.ctx.db.session(read_only=True) as session:
            batch = list(session.scalars(query.limit(CSV_BATCH)))
        if not batch:
            return
        yield "".join(_csv_line(event) for event in batch)
        last = (batch[-1].at, batch[-1].id)


def _audit_csv(web: Web, request: Request) -> Response:
    filters = _audit_filters(request.query_params)
    if filters.errors:
        return web.message(
            request, 422, "Filters need correcting", " ".join(filters.errors.values()) + " Go back and change them."
        )
    return StreamingResponse(
        _csv_lines(web, filters),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="audit-events.csv"'},
    )


def routes(web: Web) -> list[Route]:
    return [
        Route("/audit", page(web, _audit, "admin")),
        Route("/audit.csv", page(web, _audit_csv, "admin")),
    ]
