"""Hand-built drafting inputs with fixed times, so the golden drafts stay the same from run to run."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from tests.factories import raw_incident
from vhub.isr import IsrRequest, IsrSubject
from vhub.models import DASH_KEYS, Incident, validate_incident
from vhub.triage.model import Action, Priority, Recipient, RecipientKind, RiskLevel, TriageResult, Workflow

TRIAGED_AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
PREPARED_AT = datetime(2026, 3, 16, 11, 5, tzinfo=UTC)

CHILDRENS_SERVICES = Recipient(
    kind=RecipientKind.childrens_services, authority="worcestershire", name="Worcestershire Children First"
)
SCHOOL = Recipient(
    kind=RecipientKind.school, authority="worcestershire", name="Brookfield Primary School (URN 123456)", urn="123456"
)
MARAC = Recipient(kind=RecipientKind.marac, authority="worcestershire", name="Worcestershire MARAC")

_SECOND_CHILD: dict[str, Any] = {
    "nominal_ref": "N100004",
    "forename": "Dylan",
    "surname": "Testperson",
    "date_of_birth": "03/02/2022",
    "gender": "male",
    "address": {"line1": "12 Orchard Way", "town": "Worcester", "postcode": "WR1 2AB"},
    "role": "child",
    "relationship": "son of victim and suspect",
    "school": "Little Acorns Nursery",
}
_HIGH_HARM_YES = (
    "injury",
    "very_frightened",
    "afraid_of_further_violence",
    "isolated",
    "separated_past_year",
    "child_contact_conflict",
    "stalking_harassment",
    "abuse_more_often",
    "abuse_getting_worse",
    "controlling_or_jealous",
    "threats_to_kill",
    "strangulation_choking",
    "financial_issues",
    "criminal_history",
    "children_in_household",
)


def incident(**overrides: Any) -> Incident:
    """The factory's domestic abuse incident: a victim, her ex-partner and a girl of 9 who was not present."""
    return validate_incident(raw_incident(**overrides))


def incident_with_two_children() -> Incident:
    """The factory incident with a boy of 4 too, who has no child risk assessment."""
    raw = raw_incident()
    raw["people"].append(_SECOND_CHILD)
    return validate_incident(raw)


def incident_child_present() -> Incident:
    """The factory incident, but the girl was present and told officers what she saw."""
    raw = raw_incident()
    raw["people"][2].update(present=True, voice_of_child="I was on the stairs. Mummy was crying.")
    return validate_incident(raw)


def high_risk_incident() -> Incident:
    """The factory incident with a DASH checklist of 15 "yes" answers, graded high by the officer."""
    answers = {key: key in _HIGH_HARM_YES for key in DASH_KEYS}
    return incident(dash={"answers": answers, "officer_grading": "high"})


def referral_action(subject_refs: tuple[str, ...] = ("N100003",)) -> Action:
    return Action(
        workflow=Workflow.referral,
        subject="children:worcestershire",
        subject_refs=subject_refs,
        recipient=CHILDRENS_SERVICES,
        deadline=datetime(2026, 3, 16, 9, 30, tzinfo=UTC),
        reasons=("Children of the household are linked to a domestic abuse incident.",),
    )


def encompass_action(policy: str | None, subject_refs: tuple[str, ...] = ("N100003",)) -> Action:
    return Action(
        workflow=Workflow.encompass,
        subject=subject_refs[0],
        subject_refs=subject_refs,
        recipient=SCHOOL,
        deadline=datetime(2026, 3, 16, 8, 30, tzinfo=UTC),
        reasons=("A child of the household may be a victim of domestic abuse.",),
        policy=policy,
    )


def marac_action() -> Action:
    return Action(
        workflow=Workflow.marac,
        subject="N100001",
        subject_refs=("N100001",),
        recipient=MARAC,
        deadline=datetime(2026, 3, 16, 17, 0, tzinfo=UTC),
        reasons=("DASH: 15 questions answered yes, which is visible high risk.",),
    )


def triage(
    for_incident: Incident, *actions: Action, risk: RiskLevel = RiskLevel.amber, reasons: tuple[str, ...] = ()
) -> TriageResult:
    return TriageResult(
        reference=for_incident.reference,
        version=for_incident.last_modified,
        risk=risk,
        score=60 if risk is RiskLevel.red else 35,
        priority=Priority.high if risk is RiskLevel.red else Priority.default,
        reasons=reasons or ("Domestic abuse with a child of the household.", "PPN graded medium."),
        flags=(),
        missing_cras=(),
        policing_area="Worcestershire",
        actions=actions,
        problems=(),
        triaged_at=TRIAGED_AT,
    )


def isr_request() -> IsrRequest:
    """A request naming the factory victim (who has records) and a man with none."""
    return IsrRequest(
        request_id="ISR-2026-00042",
        requester="Worcestershire Children First, Family Front Door",
        requester_authority="worcestershire",
        purpose="Section 47 enquiry",
        lawful_basis="Children Act 1989, section 47; UK GDPR Article 6(1)(e)",
        received_at=datetime(2026, 3, 15, 14, 20, tzinfo=UTC),
        due_date=date(2026, 3, 17),
        subjects=[
            IsrSubject(subject_id="S1", forename="Alexandra", surname="Testperson", date_of_birth=date(1991, 5, 2)),
            IsrSubject(subject_id="S2", forename="Dominic", surname="Nofinding", date_of_birth=date(1985, 11, 30)),
        ],
        notes="Strategy discussion on 17/03/2026.",
    )


def third_party_incident() -> Incident:
    """An earlier incident of the named victim in which two people the request does not name took part."""
    raw = raw_incident(
        reference="OCC/25/004417",
        system_id=4417,
        last_modified="02/11/2025 10:00:00 GMT",
        incident_type="Assault",
        domestic_abuse=False,
        crime_classification="Assault occasioning actual bodily harm",
        occurred_at="01/11/2025 19:15:00 GMT",
        dash=None,
        ppn=None,
        child_risk_assessments=[],
        narrative="Zebedee Quartermaine punched the victim outside the Crown; Ottoline Fairweather-Vance saw it.",
    )
    raw["people"] = [
        raw["people"][0],
        {
            "nominal_ref": "N200001",
            "forename": "Zebedee",
            "surname": "Quartermaine",
            "age_years": 44,
            "gender": "male",
            "role": "suspect",
            "relationship": "known to victim",
            "present": True,
        },
        {
            "nominal_ref": "N200002",
            "forename": "Ottoline",
            "surname": "Fairweather-Vance",
            "date_of_birth": "14/07/1979",
            "gender": "female",
            "address": {"line1": "3 Crown Passage", "town": "Worcester", "postcode": "WR1 3LD"},
            "role": "witness",
            "relationship": "neighbour of Zebedee Quartermaine",
            "present": True,
        },
    ]
    return validate_incident(raw)
