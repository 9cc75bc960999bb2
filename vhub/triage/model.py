"""What triage decides about one incident version: risk, reasons, the actions it needs, and when."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class RiskLevel(StrEnum):
    """MASH risk levels: red 4 working hours, amber 24 working hours, green 72 hours, blue not shared."""

    red = "red"
    amber = "amber"
    green = "green"
    blue = "blue"


class Priority(StrEnum):
    """Decides the rq queue (high/default/low) and the review order."""

    high = "high"
    default = "default"
    low = "low"


class Workflow(StrEnum):
    referral = "referral"  # to the children's services of the child's authority (a child by age, whatever their role)
    encompass = "encompass"  # Operation Encompass notice to the child's school (or the authority)
    marac = "marac"  # MARAC referral for a victim of domestic abuse old enough for MARAC (config/triage.toml)
    isr_response = "isr_response"  # response to an Information Sharing Request


class RecipientKind(StrEnum):
    childrens_services = "childrens_services"
    school = "school"
    local_authority_education = "local_authority_education"  # electively home-educated children
    marac = "marac"
    isr_requester = "isr_requester"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Recipient(_Frozen):
    kind: RecipientKind
    authority: str | None = None  # key: herefordshire, worcestershire, shropshire, telford_wrekin
    name: str  # "Worcestershire Children First", "Brookfield Primary School (URN 123456)", ...
    urn: str | None = None  # schools only


class Action(_Frozen):
    """One thing to draft: a workflow for a subject (a child, the children of an authority, a victim).

    Referrals: "children:<authority>" for all the authority's children; where its portal takes fewer per
    referral (config/portals.toml), "children:<authority>:<nominal ref of the first child>" for each."""

    workflow: Workflow
    subject: str  # stable key within the incident: a nominal ref, or "children:<authority>[:<nominal ref>]"
    subject_refs: tuple[str, ...]  # the nominal refs the draft is about
    recipient: Recipient
    deadline: datetime  # aware, UTC
    reasons: tuple[str, ...]  # why this action applies, in plain English
    policy: str | None = None  # e.g. the Encompass form the authority uses: "full" or "minimised"


class Problem(_Frozen):
    """Something triage could not decide: a person must look (a BusinessError in the workflow)."""

    workflow: Workflow
    subject: str
    code: str  # unknown_postcode, no_school, unknown_school, age_unknown, ...
    message: str  # plain English, what is wrong and what to do; no personal data


class TriageResult(_Frozen):
    reference: str
    version: datetime  # the incident's last_modified
    risk: RiskLevel
    score: int
    priority: Priority
    reasons: tuple[str, ...]  # why this risk, in plain English, most serious first
    flags: tuple[str, ...]  # hidden_high_risk, missing_cra, repeat_child, baby, out_of_area, ...
    missing_cras: tuple[str, ...]  # nominal refs of linked children without a child risk assessment
    repeat_children: tuple[str, ...] = ()  # nominal refs of children with repeat incidents (config/triage.toml)
    policing_area: str | None
    actions: tuple[Action, ...]
    problems: tuple[Problem, ...]
    no_action_reason: str | None = None  # when there are neither actions nor problems
    triaged_at: datetime
