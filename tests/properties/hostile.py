"""Hostile values for every field of a raw incident, and a hub that runs them through the jobs a worker runs.

The values are what a compromised or careless source could put in a record: markup and template syntax,
right-to-left and combining characters, control characters, SQL, megabyte strings and impossible dates.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select

import tasks.ingest
from tasks.draft import draft_action
from tasks.triage import triage_incident
from tests.factories import raw_incident
from vhub import logs
from vhub.context import AppContext
from vhub.corrections import corrected
from vhub.errors import BusinessError, InvalidRecord
from vhub.models import DASH_KEYS, Incident, validate_incident
from vhub.store.drafts import incident_row, load_triage
from vhub.store.incidents import load_incident
from vhub.store.runs import ListedVersion, record_found, start_run
from vhub.store.tables import DataQualityItemRow, DraftRow

LISTED_VERSION = datetime(2026, 3, 14, 9, 15, tzinfo=UTC)

SCRIPT = "<script>alert(1)</script>"
ONERROR = '<img src=x onerror="alert(1)">'
SQL = "'; DROP TABLE incidents; --"
# Template syntax whose evaluation would leave a trace: {{7*'7'}} is 7777777 in Jinja, {{'vhub'|upper}} is VHUB.
TEMPLATE = ("{{7*7}}", "{{7*'7'}}", "{{'vhub'|upper}}", "{% raw %}", "{% endraw %}", "${7*7}", "{#", "#{7*7}")
EVALUATED = ("7777777", "VHUB")
MARKUP = (SCRIPT, ONERROR, "</textarea><script>alert(2)</script>", '"><svg onload=alert(3)>', "javascript:alert(4)")
WRITING = (
    "\u202eevil\u202c",  # right-to-left override
    "\u2066\u2069\u200f\u200e",  # isolates and direction marks
    "مريم الحسن",  # Arabic
    "שרה כהן",  # Hebrew
    "Zoe\u0308 Z\u0351\u0352\u0353\u0354",  # combining marks
    "\u200b\ufeff\u00a0",  # zero-width space, byte order mark, no-break space
    "李小龍 👩\u200d👧",  # CJK and a joined emoji
)
CONTROL = ("\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\x0b", "\x0c", "\r\n", "\t", "\ud800")
FRAGMENTS = (*MARKUP, *TEMPLATE, SQL, '" OR 1=1 --', *WRITING, *CONTROL)

# Dates no record should hold: not in any calendar, before 1900, at the edges of what Python can hold.
IMPOSSIBLE_DATES = (
    "31/02/2016",
    "29/02/2023",
    "00/01/2020",
    "32/01/2020",
    "01/13/2020",
    "1899-12-31",
    "31/12/1899",
    "01/01/9999",
    "31/12/9999",
    "9999-12-31",
    "01/01/0001",
    "0001-01-01",
    "0000-00-00",
)
IMPOSSIBLE_DATETIMES = (
    "31/02/2016 10:00",
    "29/02/2023 10:00 GMT",
    "14/03/2026 24:00",
    "14/03/2026 09:60",
    "31/12/1899 23:59 GMT",
    "01/01/1800 00:00",
    "31/12/9999 23:59 GMT",
    "31/12/9999 23:59 BST",
    "31/12/9999 23:59",
    "01/01/0001 00:00 GMT",
    "01/01/0001 00:00 BST",
    "01/01/0001 00:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2026-03-14T09:15:00",
)


def _leaves(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, f"{path}[{index}]")
    else:
        yield path, data


def _base() -> dict[str, Any]:
    raw = raw_incident()
    raw["people"][2]["voice_of_child"] = "I was on the stairs."
    raw["child_risk_assessments"][0].update(  # what the child risk assessment audit reads
        age_years=9,
        voice_of_child="I hid upstairs.",
        risk_factors=["Domestic abuse in the household"],
        actions=[{"action": "Refer to children's services", "owner": "VHub"}],
        area="Worcestershire",
        team="Response Team B",
    )
    return raw


_DATE_FIELDS = ("date_of_birth",)
_DATETIME_FIELDS = ("last_modified", "occurred_at", "raised_at", "completed_at")
# Every text value of the record, free text or not: a reference or an enum holding markup must be refused too.
TEXT_PATHS = tuple(path for path, value in _leaves(_base()) if isinstance(value, str))
_FREE_TEXT_FIELDS = ("incident_type", "crime_classification", "line1", "town", "officer", "narrative", "forename")
_FREE_TEXT_FIELDS += ("surname", "relationship", "school", "voice_of_child", "summary")
_FREE_TEXT_FIELDS += ("risk_factors[0]", "action", "owner", "area", "team")
FREE_TEXT_PATHS = tuple(path for path in TEXT_PATHS if path.rsplit(".", 1)[-1] in _FREE_TEXT_FIELDS)
DATE_PATHS = tuple(path for path in TEXT_PATHS if path.rsplit(".", 1)[-1] in _DATE_FIELDS)
DATETIME_PATHS = tuple(path for path in TEXT_PATHS if path.rsplit(".", 1)[-1] in _DATETIME_FIELDS)


def hostile_text(max_fragments: int = 5, *, control: bool = True) -> st.SearchStrategy[str]:
    """Fragments of attack and odd writing, joined with arbitrary text between them; ``control=False``
    leaves out control characters, so the value can be stored."""
    fragments = FRAGMENTS if control else tuple(f for f in FRAGMENTS if f not in CONTROL)
    text = st.text(max_size=12) if control else st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12)
    piece = st.one_of(st.sampled_from(fragments), text)
    return st.lists(piece, min_size=1, max_size=max_fragments).map("".join)


def huge_text() -> st.SearchStrategy[str]:
    """A fragment repeated to a length at or around a limit VHub keeps, up to a megabyte."""
    sizes = st.sampled_from((80, 81, 120, 121, 200, 201, 20_000, 20_001, 1_000_000))
    return st.builds(
        lambda fragment, size: (fragment * (size // len(fragment) + 1))[:size], st.sampled_from(FRAGMENTS), sizes
    )


def placeholder(number: int) -> str:
    """A value every field that takes free text accepts and that no draft or page would hold by chance."""
    return f"Qzv{number}placeholder"


def json_strings(value: Any) -> str:
    """Every string in a JSON value, one per line, as JSON writes them (a control character cannot hide)."""
    return "\n".join(json.dumps(leaf) for _, leaf in _leaves(value) if isinstance(leaf, str))


@dataclass
class Ingested:
    """What became of one record: stored (with its drafts) or kept as a data-quality item."""

    raw: dict[str, Any]
    outcome: str
    incident: Incident | None = None
    item: DataQualityItemRow | None = None
    drafts: list[DraftRow] = field(default_factory=list)
    undecided: list[DataQualityItemRow] = field(default_factory=list)  # what triage left to a person
    refused: list[BusinessError] = field(default_factory=list)


class Hub:
    """The store and Redis of a running hub; records go through the ingest, triage and draft jobs as a worker
    runs them, each with a new reference so no two examples meet."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._numbers = itertools.count(200_001)
        self._reading: dict[str, Any] = {}

    def records_bot(self, settings: object) -> Hub:
        """Stands in for the records bot: every incident page reads as the record being run."""
        return self

    def read_incident(self, system_id: int) -> dict[str, Any]:
        return self._reading

    def fresh(self, changes: dict[str, Any] | None = None, *, high_risk: bool = False) -> dict[str, Any]:
        """The factory incident under a new reference and system id, with each value of ``changes`` at its path;
        ``high_risk``: every DASH question answered yes, so the victim is referred to MARAC too."""
        number = next(self._numbers)
        raw = _base()
        if high_risk:
            raw["dash"] = {"answers": dict.fromkeys(DASH_KEYS, True), "officer_grading": "high"}
        raw.update(reference=f"OCC/26/{number:06d}", system_id=number)
        # New people too (nominals and surnames), so no record is a repeat of an earlier example's.
        tag = "".join(chr(ord("a") + int(digit)) for digit in str(number))
        for index, person in enumerate(raw["people"]):
            person.update(nominal_ref=f"N{3 * number + index:06d}", surname=f"{person['surname']}{tag}")
        raw["child_risk_assessments"][0]["nominal_ref"] = raw["people"][2]["nominal_ref"]
        return corrected(raw, changes or {})

    def run(self, raw: dict[str, Any]) -> Ingested:
        """Ingest the record as the scan listed it (by its system id); if stored, triage it and draft every action."""
        system_id = raw["system_id"]
        reference = f"OCC/26/{system_id:06d}"  # the listing's reference, whatever the record's page says
        with self.ctx.db.session() as session:
            run_id = start_run(session, kind="test", system="records_system", changed_since=None)
            record_found(session, run_id, "records_system", [ListedVersion(system_id, reference, LISTED_VERSION)])
        self._reading = raw
        outcome = self._job(tasks.ingest.ingest, run_id, system_id, reference, LISTED_VERSION.isoformat())
        if outcome == "invalid":
            with self.ctx.db.session() as session:
                item = session.scalars(
                    select(DataQualityItemRow).where(
                        DataQualityItemRow.source_system == "records_system", DataQualityItemRow.system_id == system_id
                    )
                ).one()
                session.expunge(item)
            return Ingested(raw, outcome, item=item)
        incident = validate_incident(raw)
        version = incident.last_modified.isoformat()
        result = self._job(triage_incident, incident.reference, version)
        assert incident.reference == result["reference"]
        ingested = Ingested(raw, outcome, incident=incident)
        with self.ctx.db.session() as session:
            row = incident_row(session, incident.reference, incident.last_modified)
            assert row is not None
            triage = load_triage(session, row.id)
            ingested.incident = load_incident(session, incident.reference, incident.last_modified)
        assert triage is not None
        for action in triage.actions:
            try:
                self._job(draft_action, incident.reference, version, action.workflow.value, action.subject)
            except BusinessError as error:  # a person must look: the worker fails it unretried, with its reason
                ingested.refused.append(error)
        with self.ctx.db.session() as session:
            ingested.drafts = list(session.scalars(select(DraftRow).where(DraftRow.source_ref == incident.reference)))
            ingested.undecided = list(
                session.scalars(
                    select(DataQualityItemRow).where(
                        DataQualityItemRow.source_system == "triage", DataQualityItemRow.system_id == system_id
                    )
                )
            )
            session.expunge_all()
        return ingested

    @staticmethod
    def _job(function: Any, *args: Any) -> Any:
        """Call a job function as the worker does: a clean log context before and after."""
        logs.new_context()
        try:
            return function(*args)
        finally:
            logs.new_context()


def slot(raw: dict[str, Any], subject: str) -> str:
    """A draft's subject with each nominal replaced by the person's place in the record: the same for twins."""
    for index, person in enumerate(raw["people"]):
        if isinstance(person.get("nominal_ref"), str):
            subject = subject.replace(person["nominal_ref"], f"#{index}")
    return subject


def expected_outcome(raw: dict[str, Any]) -> Incident | InvalidRecord:
    try:
        return validate_incident(raw)
    except InvalidRecord as error:
        return error
