"""Drafts each action from its template: the fields its recipient may have (the payload) and the text a reviewer reads.

Every template is rendered from the same fields that go into the payload, so neither can hold more than the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from vhub.drafting.config import DraftingConfig
from vhub.drafting.describe import incident_kind, others_involved, person_in
from vhub.drafting.environment import environment, uk_date
from vhub.drafting.payloads import (
    DashSummary,
    EncompassFullNotice,
    EncompassMinimisedNotice,
    MaracPerson,
    MaracSummary,
)
from vhub.drafting.referral_form import ReferralForm
from vhub.errors import BusinessError
from vhub.isr import IsrRequest, IsrResponse, SubjectFinding
from vhub.models import DASH_QUESTIONS, LONDON, Gender, Incident, Person, Role
from vhub.triage.ages import age_at, is_child
from vhub.triage.config import AgePolicy
from vhub.triage.model import Action, Recipient, RecipientKind, TriageResult, Workflow


class DraftContent(BaseModel):
    """One drafted action, awaiting review. ``payload`` is what a bot will enter into the partner's portal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workflow: Workflow
    subject: str
    title: str  # shown in the review queue: never personal data
    recipient: Recipient
    policy: str | None = None
    payload: dict[str, Any]
    text: str

    @field_validator("payload")
    @classmethod
    def _storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise ValueError("holds values that cannot be stored as JSON") from None
        return value


def draft_referral(action: Action, incident: Incident, triage: TriageResult, config: DraftingConfig) -> DraftContent:
    """The multi-agency referral form for the action's children, with its narrative."""
    _check(action, incident, triage, Workflow.referral)
    threshold = config.referral.threshold.get(triage.risk)
    if threshold is None:
        raise BusinessError(
            f"Incident {incident.reference} is at risk {triage.risk.value}, which is not referred to children's "
            "services: check its triage.",
            code="risk_not_referred",
        )
    children = [person_in(incident, ref) for ref in action.subject_refs]
    household = [
        person
        for person in incident.people
        if person.nominal_ref not in action.subject_refs and person.role is not Role.witness
    ]
    suspects = [_named(person) for person in incident.people if person.role is Role.suspect]
    not_needed = triage.risk in config.consent.not_needed_at
    fields = {
        "referrer": {**config.referrer.model_dump(), "referral_date": triage.triaged_at.astimezone(LONDON).date()},
        "consent": {"consent_not_needed_reason": config.consent.not_needed_reason if not_needed else None},
        "children": [_referral_child(child) for child in children],
        "parents_carers_household": [_household_member(person) for person in household],
        "concern": {
            "what": incident_kind(incident),
            "source": config.referral.source,
            "occurred_at": incident.occurred_at,
            "location": incident.location,
            "immediate_protection_needed": triage.risk in config.referral.immediate_protection_at,
            "alleged_perpetrator": "; ".join(suspects) or None,
        },
        "parental_factors": {"domestic_abuse": True if incident.domestic_abuse else None},
        "threshold_level": threshold,
        # The narrative is rendered from the validated form, so it is validated with a stand-in first.
        "narrative": "to be rendered",
    }
    try:
        form = ReferralForm.model_validate(fields)
    except ValidationError as error:
        problems = "; ".join(ReferralForm.describe_errors(error).values())
        raise BusinessError(
            f"The referral form for incident {incident.reference} could not be drafted: {problems}.",
            code="referral_form_invalid",
        ) from None
    text = _render(
        "referral_narrative.txt.j2",
        form=form,
        recipient=action.recipient,
        reference=incident.reference,
        officer=incident.officer,
        account=incident.narrative,
        child_facts=[_child_facts(child, incident) for child in children],
        risk=triage.risk.value,
        reasons=_reasons(action, triage),
        dash=incident.dash,
        ppn=incident.ppn,
        deadline=action.deadline,
    )
    form = form.model_copy(update={"narrative": text.strip()})
    count = f"{len(children)} child" if len(children) == 1 else f"{len(children)} children"
    return _draft(action, f"Referral — {action.recipient.name} — {count}{_part_of(action, triage)}", form, text)


def draft_encompass(action: Action, incident: Incident, triage: TriageResult, config: DraftingConfig) -> DraftContent:
    """An Operation Encompass notice about one child, in the full or minimised form the authority uses."""
    _check(action, incident, triage, Workflow.encompass)
    if len(action.subject_refs) != 1:
        raise BusinessError(
            f"An Operation Encompass notice is about one child, but the action for incident {incident.reference} "
            f"names {len(action.subject_refs)}: check its triage.",
            code="encompass_one_child",
        )
    if not incident.domestic_abuse:
        raise BusinessError(
            f"Incident {incident.reference} is not recorded as domestic abuse, so no Operation Encompass notice "
            "applies: check its triage.",
            code="encompass_not_domestic_abuse",
        )
    child = person_in(incident, action.subject_refs[0])
    common: dict[str, Any] = {
        "child_name": _full_name(child),
        "date_of_birth": child.date_of_birth,
        "occurred_at": incident.occurred_at,
        "present": child.present,
    }
    notice: EncompassFullNotice | EncompassMinimisedNotice
    if action.policy == "full":
        others = others_involved(incident, child, config.triage.ages)
        notice = EncompassFullNotice(
            **common,
            police_reference=incident.reference,
            location=incident.location,
            spoken_to=True if child.voice_of_child else None,
            voice_of_child=child.voice_of_child,
            circumstances=f"{incident_kind(incident)}." + (f" Also involved: {'; '.join(others)}." if others else ""),
        )
    elif action.policy == "minimised":
        assessed = any(cra.nominal_ref == child.nominal_ref for cra in incident.child_risk_assessments)
        notice = EncompassMinimisedNotice(**common, welfare_check_made=True if assessed else None)
    else:
        raise BusinessError(
            f"The Operation Encompass form for {action.recipient.name} is neither 'full' nor 'minimised': "
            "set the authority's Operation Encompass policy.",
            code="encompass_policy_unknown",
        )
    addressee = action.recipient.name
    if action.recipient.kind is RecipientKind.school:
        addressee = f"The Designated Safeguarding Lead, {addressee}"
    text = _render(f"encompass_{action.policy}.txt.j2", notice=notice, addressee=addressee, sender=config.referrer)
    return _draft(action, f"Operation Encompass notice — {action.recipient.name}", notice, text)


def draft_marac(action: Action, incident: Incident, triage: TriageResult, config: DraftingConfig) -> DraftContent:
    """The police summary for a MARAC referral of a victim of domestic abuse old enough for MARAC."""
    _check(action, incident, triage, Workflow.marac)
    if len(action.subject_refs) != 1:
        raise BusinessError(
            f"A MARAC referral is about one victim, but the action for incident {incident.reference} names "
            f"{len(action.subject_refs)}: check its triage.",
            code="marac_one_victim",
        )
    victim = person_in(incident, action.subject_refs[0])
    age, minimum = age_at(victim, incident), config.triage.workflows.marac_min_victim_age
    if age is None or age < minimum:
        if age is None:
            fix = "has no recorded age: record it, then triage again"
        else:
            fix = "is younger: refer to children's services instead"
        raise BusinessError(
            f"MARAC is for victims aged {minimum} or over; the victim in incident {incident.reference} {fix}.",
            code="marac_victim_age",
        )
    dash = None
    if incident.dash is not None:
        answers = incident.dash.answers
        dash = DashSummary(
            officer_grading=incident.dash.officer_grading,
            yes_count=incident.dash.yes_count,
            high_harm_answers=tuple(key for key in config.marac.high_harm_questions if answers.get(key) is True),
        )
    summary = MaracSummary(
        police_reference=incident.reference,
        occurred_at=incident.occurred_at,
        incident=incident_kind(incident),
        risk=triage.risk,
        victim=_marac_person(victim, incident),
        dash=dash,
        reasons=_reasons(action, triage),
        perpetrators=tuple(_marac_person(p, incident) for p in incident.people if p.role is Role.suspect),
        children=tuple(
            _marac_person(person, incident)
            for person in incident.people
            if person is not victim and _maybe_child(person, incident, config.triage.ages)
        ),
    )
    text = _render(
        "marac_summary.txt.j2",
        summary=summary,
        recipient=action.recipient,
        sender=config.referrer,
        questions=DASH_QUESTIONS,
        high_risk_yes=config.triage.risk.dash_high_risk_yes,
        deadline=action.deadline,
        coordinator_note=config.marac.coordinator_note,
    )
    return _draft(action, f"MARAC referral — {action.recipient.name}", summary, text)


def draft_isr_response(
    request: IsrRequest,
    findings: list[SubjectFinding],
    config: DraftingConfig,
    *,
    prepared_at: datetime | None = None,
) -> DraftContent:
    """The response to an Information Sharing Request: per named subject, their incidents or "No trace"."""
    by_subject = {finding.subject_id: finding for finding in findings}
    named = [subject.subject_id for subject in request.subjects]
    if len(by_subject) != len(findings) or set(by_subject) - set(named):
        raise BusinessError(
            f"The findings for {request.request_id} include someone not named in the request, or a subject twice: "
            "only named subjects may be reported.",
            code="isr_subject_not_named",
        )
    if missing := [subject_id for subject_id in named if subject_id not in by_subject]:
        raise BusinessError(
            f"Subjects {', '.join(missing)} of {request.request_id} have not been searched: search the records "
            "for them before drafting the response.",
            code="isr_subject_not_searched",
        )
    response = IsrResponse(
        request_id=request.request_id,
        findings=tuple(by_subject[subject_id] for subject_id in named),
        prepared_at=prepared_at or datetime.now(UTC),
    )
    text = _render(
        "isr_response.txt.j2",
        request=request,
        subjects=[(subject, by_subject[subject.subject_id]) for subject in request.subjects],
        prepared_at=response.prepared_at,
        sender=config.referrer,
        records_searched=config.isr.records_searched,
        sign_off=config.isr.sign_off,
    )
    count = "1 subject" if len(named) == 1 else f"{len(named)} subjects"
    return DraftContent(
        workflow=Workflow.isr_response,
        subject=request.request_id,
        title=f"ISR response — {request.request_id} — {count}",
        recipient=Recipient(
            kind=RecipientKind.isr_requester, authority=request.requester_authority, name=request.requester
        ),
        payload=response.model_dump(mode="json"),
        text=text,
    )


_Drafter = Callable[[Action, Incident, TriageResult, DraftingConfig], DraftContent]
_INCIDENT_DRAFTERS: dict[Workflow, _Drafter] = {
    Workflow.referral: draft_referral,
    Workflow.encompass: draft_encompass,
    Workflow.marac: draft_marac,
}


def render_draft(action: Action, incident: Incident, triage: TriageResult, config: DraftingConfig) -> DraftContent:
    """Draft one of triage's actions with the drafter of its workflow."""
    drafter = _INCIDENT_DRAFTERS.get(action.workflow)
    if drafter is None:
        raise ValueError(f"{action.workflow.value} is not drafted from an incident: use draft_isr_response")
    return drafter(action, incident, triage, config)


def _check(action: Action, incident: Incident, triage: TriageResult, workflow: Workflow) -> None:
    if action.workflow is not workflow:
        raise ValueError(f"a {action.workflow.value} action cannot be drafted as {workflow.value}")
    if (triage.reference, triage.version) != incident.version or action not in triage.actions:
        raise BusinessError(
            f"The action is not from the triage of this version of incident {incident.reference}: triage it again.",
            code="triage_out_of_date",
        )


def _render(template: str, **context: Any) -> str:
    return environment().get_template(f"drafts/{template}").render(**context)


def _draft(action: Action, title: str, payload: BaseModel, text: str) -> DraftContent:
    return DraftContent(
        workflow=action.workflow,
        subject=action.subject,
        title=title,
        recipient=action.recipient,
        policy=action.policy,
        payload=payload.model_dump(mode="json"),
        text=text,
    )


def _part_of(action: Action, triage: TriageResult) -> str:
    """`` (referral 1 of 2)`` when the authority takes children one referral at a time and this incident needs more."""
    parts = [a for a in triage.actions if a.workflow is action.workflow and a.recipient == action.recipient]
    return f" (referral {parts.index(action) + 1} of {len(parts)})" if len(parts) > 1 else ""


def _maybe_child(person: Person, incident: Incident, ages: AgePolicy) -> bool:
    """A child on the day by age; someone recorded as a child with no age stays listed (as of unknown age)."""
    child = is_child(person, incident, ages)
    return child if child is not None else person.role is Role.child


def _reasons(action: Action, triage: TriageResult) -> tuple[str, ...]:
    """Why the risk, then why this action, each once."""
    return tuple(dict.fromkeys((*triage.reasons, *action.reasons)))


def _full_name(person: Person) -> str:
    return f"{person.forename} {person.surname}"


def _named(person: Person) -> str:
    """``Brandon Examplename, aged 38, ex-partner of victim``: for recipients who may know who it is."""
    parts = [_full_name(person)]
    if person.date_of_birth is not None:
        parts.append(f"born {uk_date(person.date_of_birth)}")
    elif person.age_years is not None:
        parts.append(f"aged {person.age_years}")
    if person.relationship:
        parts.append(person.relationship)
    return ", ".join(parts)


def _referral_child(child: Person) -> dict[str, Any]:
    """A child's fields on the form (a dict, so errors carry their path within the form)."""
    return {
        "forename": child.forename,
        "surname": child.surname,
        "date_of_birth": child.date_of_birth,
        "age_years": None if child.date_of_birth else child.age_years,
        "gender": None if child.gender is Gender.unknown else child.gender,
        "school_or_nursery": child.school or ("Electively home-educated" if child.home_educated else None),
        "address": child.address,
    }


def _household_member(person: Person) -> dict[str, Any]:
    return {
        "name": _full_name(person),
        "relationship": person.relationship,
        "role_in_incident": person.role.value,
        "date_of_birth": person.date_of_birth,
        "age_years": None if person.date_of_birth else person.age_years,
        "address": person.address,
    }


def _child_facts(child: Person, incident: Incident) -> dict[str, Any]:
    """What the narrative says of each child beyond the form: age, presence, voice, the child risk assessment."""
    cra = next((cra for cra in incident.child_risk_assessments if cra.nominal_ref == child.nominal_ref), None)
    return {
        "name": _full_name(child),
        "date_of_birth": child.date_of_birth,
        "age": age_at(child, incident),
        "relationship": child.relationship,
        "role": None if child.role is Role.child else child.role.value,  # a child victim, suspect or witness
        "present": child.present,
        "voice_of_child": child.voice_of_child,
        "assessment": cra.level.value if cra else None,
    }


def _marac_person(person: Person, incident: Incident) -> MaracPerson:
    return MaracPerson(
        name=_full_name(person),
        date_of_birth=person.date_of_birth,
        age_years=age_at(person, incident),
        relationship=person.relationship,
        address=person.address,
    )
