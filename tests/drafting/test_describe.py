"""Describing people by role and incidents by their facts: what an ISR response may say about others."""

from __future__ import annotations

from datetime import date

import pytest

from tests.drafting import inputs
from vhub.drafting import describe_person, summarise_for_subject
from vhub.errors import BusinessError
from vhub.models import Gender, Person, Role
from vhub.triage.config import AgePolicy

ON = date(2026, 3, 13)


def person(gender: Gender, date_of_birth: date | None = None, age_years: int | None = None) -> Person:
    return Person(
        nominal_ref="N999999",
        forename="Quincy",
        surname="Placeholder",
        date_of_birth=date_of_birth,
        age_years=age_years,
        gender=gender,
        role=Role.child,
    )


@pytest.mark.parametrize(
    ("someone", "expected"),
    [
        (person(Gender.male, date(2008, 3, 14)), "a boy aged 17"),
        (person(Gender.male, date(2008, 3, 13)), "an adult male"),
        (person(Gender.female, date(2016, 9, 20)), "a girl aged 9"),
        (person(Gender.female, date(2025, 12, 1)), "a girl aged under 1"),
        (person(Gender.other, age_years=5), "a child aged 5"),
        (person(Gender.female, age_years=40), "an adult female"),
        (person(Gender.unknown, age_years=30), "an adult"),
        (person(Gender.male), "a male of unknown age"),
        (person(Gender.unknown), "a person of unknown age"),
    ],
)
def test_describe_person_by_age_and_gender(someone: Person, expected: str) -> None:
    """Under 18 is a boy or girl with an age, 18 and over an adult; no age recorded says so."""
    assert expected == describe_person(someone, ON)


def test_summary_gives_facts_and_roles_only() -> None:
    """The summary for the victim gives the incident's kind, date, her role, the others by role and the gradings."""
    summary = summarise_for_subject(inputs.incident(), "N100001")
    expected = (
        "Domestic abuse (Common assault) on 13/03/2026. Recorded as victim. Also involved: an adult male "
        "(ex-partner of victim); a girl aged 9 (daughter of victim). DASH: medium; PPN: medium."
    )
    assert expected == summary.summary
    assert ("OCC/26/000101", date(2026, 3, 13), "victim") == (
        summary.reference,
        summary.occurred_on,
        summary.subject_role,
    )


def test_summary_never_names_third_parties() -> None:
    """Names, addresses and the narrative of others stay out, even a relationship that names someone."""
    summary = summarise_for_subject(inputs.third_party_incident(), "N100001")
    expected = (
        "Assault (Assault occasioning actual bodily harm) on 01/11/2025. Recorded as victim. Also involved: "
        "an adult male (known to victim); an adult female (witness)."
    )
    assert expected == summary.summary


def test_summary_for_a_person_not_linked_is_refused() -> None:
    """Asking about a nominal the incident does not link is a business error naming the reference only."""
    with pytest.raises(BusinessError) as caught:
        summarise_for_subject(inputs.incident(), "N123456")
    assert "subject_not_linked" == caught.value.code


def test_who_is_described_as_a_child_is_triages_configured_age() -> None:
    """With children configured as under 16, a boy of 17 is described as an adult; as shipped (under 18), a boy."""
    seventeen = person(Gender.male, date(2008, 3, 14))
    assert "a boy aged 17" == describe_person(seventeen, ON)
    assert "an adult male" == describe_person(seventeen, ON, AgePolicy(child_under=16, baby_under_months=18))
