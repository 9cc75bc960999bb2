"""What a data-quality item holds up, and by when: the deadline of the action it blocks, by triage's own rules.

A problem triage could not decide (no school, an unknown postcode, no age) blocks the action of its workflow
for that person: its deadline is the one triage would have set. A record that could not be read at all blocks
every action of its incident; which ones is not known until it is corrected, so it takes the soonest any of
them could have (a red-risk referral, or an Operation Encompass notice before the next school day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from vhub.models import LONDON, Incident, parse_uk_date, parse_uk_datetime
from vhub.triage.calendar import add_working_hours, next_school_day_start
from vhub.triage.config import Authority, TriageConfig
from vhub.triage.model import Problem, RiskLevel, TriageResult, Workflow
from vhub.triage.rules import referral_deadline

_WHAT = {
    Workflow.referral: "the referral to children's services",
    Workflow.encompass: "the Operation Encompass notice",
    Workflow.marac: "the MARAC referral",
    Workflow.isr_response: "the response to the information sharing request",
}


@dataclass(frozen=True)
class Blocked:
    """The soonest deadline of what an item blocks, and what that is in plain words (no personal data)."""

    deadline: datetime | None  # aware, UTC; None: nothing with a deadline waits on it
    what: str


def _encompass(occurred_at: datetime, authorities: list[Authority]) -> datetime:
    """The next school day's start: the authority's if known, else the soonest of the four."""
    return min(next_school_day_start(occurred_at, authority).at for authority in authorities)


def _authorities_of(problem: Problem, incident: Incident, config: TriageConfig) -> list[Authority]:
    nominal = problem.subject.split(":")[-1]
    person = next((p for p in incident.people if p.nominal_ref == nominal), None)
    postcode = (person.address if person and person.address else incident.location).postcode
    found = config.authority_for_postcode(postcode)
    return [found] if found else list(config.authorities.values())


def _deadline_of(problem: Problem, incident: Incident, risk: RiskLevel, config: TriageConfig) -> datetime:
    occurred_at = incident.occurred_at
    if problem.workflow is Workflow.encompass:
        return _encompass(occurred_at, _authorities_of(problem, incident, config))
    if problem.workflow is Workflow.marac:
        return add_working_hours(occurred_at, config.policy.deadlines.marac_working_hours, config.policy.deadlines)
    referral = referral_deadline(risk, occurred_at, config)
    if problem.code == "age_unknown" and incident.domestic_abuse:  # a child of school age would need a notice too
        return min(referral, _encompass(occurred_at, _authorities_of(problem, incident, config)))
    return referral


def blocked_by_problems(incident: Incident, result: TriageResult, config: TriageConfig) -> Blocked:
    """The soonest deadline among the actions ``result.problems`` hold up."""
    if not result.problems:
        return Blocked(None, "nothing")
    dated = sorted(
        ((_deadline_of(problem, incident, result.risk, config), problem) for problem in result.problems),
        key=lambda pair: pair[0],
    )
    deadline, first = dated[0]
    what = _WHAT.get(first.workflow, first.workflow.value)
    if first.code == "age_unknown":
        what = "whether to refer or notify for a person of unknown age"
    return Blocked(deadline, f"{what} for {first.subject.split(':')[-1]}")


def blocked_by_invalid_record(raw: dict[str, Any], version: datetime, config: TriageConfig) -> Blocked:
    """An incident that could not be read holds up all its actions: the soonest any of them could be due, from
    when it happened (or, if that cannot be read either, from the version's time)."""
    try:
        occurred_at = parse_uk_datetime(raw.get("occurred_at"))
    except ValueError:
        occurred_at = None
    if not isinstance(occurred_at, datetime):
        occurred_at = version
    soonest = referral_deadline(RiskLevel.red, occurred_at, config)
    what = "every action of the incident (until it is read, it may need a red-risk referral"
    try:
        domestic = TypeAdapter(bool).validate_python(raw.get("domestic_abuse"))
    except ValidationError:
        domestic = True  # cannot tell: it may be
    if domestic:
        soonest = min(soonest, _encompass(occurred_at, list(config.authorities.values())))
        what += " or an Operation Encompass notice"
    return Blocked(soonest, what + ")")


def blocked_by_invalid_request(raw: dict[str, Any], version: datetime, config: TriageConfig) -> Blocked:
    """A request that could not be read holds up its response, due at the end of its due date (or, if that cannot
    be read, the end of the working day it was first seen)."""
    try:
        due = parse_uk_date(raw.get("due_date"))
        if isinstance(due, str):
            due = date.fromisoformat(due)
    except ValueError:
        due = None
    if not isinstance(due, date):
        due = version.astimezone(LONDON).date()
    end = datetime.combine(due, config.policy.deadlines.working_day_end, tzinfo=LONDON)
    return Blocked(end.astimezone(UTC), _WHAT[Workflow.isr_response])
