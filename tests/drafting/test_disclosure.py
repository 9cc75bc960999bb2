"""Invariant 4 for drafts: each recipient gets only the fields its policy allows, in the payload and the text."""

from __future__ import annotations

import json
import re

import pytest

from tests.drafting import inputs
from vhub.drafting import DraftContent, DraftingConfig, draft_encompass, draft_isr_response, summarise_for_subject
from vhub.errors import BusinessError
from vhub.isr import SubjectFinding
from vhub.models import POSTCODE_RE

NOT_IN_MINIMISED = (
    "Brandon",  # the suspect
    "Examplename",
    "Alexandra",  # the victim
    "12 Orchard Way",  # the address
    "Orchard",
    "Officers attended after a call from a neighbour",  # the narrative
    "neighbour",
    "Common assault",  # the classification
    "assault",
    "victim",
    "ex-partner",
    "OCC/26/000101",
)
THIRD_PARTIES = ("Zebedee", "Quartermaine", "Ottoline", "Fairweather", "Vance", "Crown", "WR1 3LD", "14/07/1979")


def both(draft: DraftContent) -> str:
    """The text and the payload, as one string to search."""
    return f"{draft.text}\n{json.dumps(draft.payload, ensure_ascii=False)}"


def encompass(config: DraftingConfig, policy: str) -> DraftContent:
    incident = inputs.incident_child_present()
    action = inputs.encompass_action(policy)
    return draft_encompass(action, incident, inputs.triage(incident, action), config)


def test_minimised_payload_holds_only_its_five_fields(config: DraftingConfig) -> None:
    """Name, date of birth, when, present or not, welfare check: nothing else is in the minimised payload."""
    payload = encompass(config, "minimised").payload
    assert {
        "child_name": "Casey Testperson",
        "date_of_birth": "2016-09-20",
        "occurred_at": "2026-03-13T22:40:00Z",
        "present": True,
        "welfare_check_made": True,
    } == payload


@pytest.mark.parametrize("forbidden", NOT_IN_MINIMISED)
def test_minimised_notice_says_nothing_of_who_where_or_what(config: DraftingConfig, forbidden: str) -> None:
    """No suspect, victim, address, narrative, classification or reference in the minimised text or payload."""
    assert [] == re.findall(re.escape(forbidden), both(encompass(config, "minimised")), re.IGNORECASE)


def test_minimised_notice_holds_no_postcode(config: DraftingConfig) -> None:
    """Nothing shaped like a postcode appears in the minimised notice."""
    words = re.findall(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", both(encompass(config, "minimised")))
    assert [] == [word for word in words if POSTCODE_RE.match(word)]


def test_minimised_notice_gives_date_presence_and_welfare_check(config: DraftingConfig) -> None:
    """The minimised text says a domestic abuse incident took place at DATE HH:MM, presence and welfare check."""
    text = encompass(config, "minimised").text
    for line in (
        "Child: Casey Testperson",
        "Date of birth: 20/09/2016",
        "A domestic abuse incident took place at 13/03/2026 22:40.",
        "Child present: Yes",
        "Welfare check made: Yes",
    ):
        assert line in text.splitlines()


def test_full_notice_holds_what_the_domain_lists(config: DraftingConfig) -> None:
    """Name, DOB, reference, date, time and location, presence, spoken to and voice, brief circumstances."""
    text = encompass(config, "full").text
    for line in (
        "Child: Casey Testperson",
        "Date of birth: 20/09/2016",
        "Police reference: OCC/26/000101",
        "Police recorded a domestic abuse incident on 13/03/2026 at 22:40.",
        "Location: 12 Orchard Way, Worcester, WR1 2AB",
        "Child present: Yes",
        "Child spoken to: Yes",
        'What the child said: "I was on the stairs. Mummy was crying."',
        "Circumstances: Domestic abuse (Common assault). Also involved: an adult female (victim); an adult male "
        "(ex-partner of victim).",
    ):
        assert line in text.splitlines()


@pytest.mark.parametrize("forbidden", ("Brandon", "Examplename", "Alexandra", "Officers attended"))
def test_full_notice_names_no_adult_and_quotes_no_narrative(config: DraftingConfig, forbidden: str) -> None:
    """Circumstances come from structured facts: the adults by role, never by name, and not the raw narrative."""
    assert forbidden not in both(encompass(config, "full"))


@pytest.mark.parametrize("policy", ("full", "minimised"))
def test_every_notice_tells_the_school_not_to_approach_parents(config: DraftingConfig, policy: str) -> None:
    """Both forms go to the Designated Safeguarding Lead and say not to approach the parents."""
    text = encompass(config, policy).text
    assert "To: The Designated Safeguarding Lead, Brookfield Primary School (URN 123456)" in text
    assert "do not approach the child's parents or carers about this notice" in text


def test_notice_times_are_london_time(config: DraftingConfig) -> None:
    """A summer incident is given in BST: 22:30 UTC on 29 June is 23:30 in London."""
    incident = inputs.incident(occurred_at="29/06/2026 23:30:00 BST", last_modified="30/06/2026 09:00:00 BST")
    action = inputs.encompass_action("minimised")
    text = draft_encompass(action, incident, inputs.triage(incident, action), config).text
    assert "A domestic abuse incident took place at 29/06/2026 23:30." in text.splitlines()


def isr_with_third_parties(config: DraftingConfig) -> DraftContent:
    finding = SubjectFinding(
        subject_id="S1",
        forename="Alexandra",
        surname="Testperson",
        date_of_birth=None,
        incidents=(summarise_for_subject(inputs.third_party_incident(), "N100001"),),
    )
    none = SubjectFinding(subject_id="S2", forename="Dominic", surname="Nofinding", date_of_birth=None, incidents=())
    return draft_isr_response(inputs.isr_request(), [finding, none], config, prepared_at=inputs.PREPARED_AT)


@pytest.mark.parametrize("forbidden", THIRD_PARTIES)
def test_isr_response_never_identifies_people_not_named(config: DraftingConfig, forbidden: str) -> None:
    """Third parties in a subject's incidents (names, address, date of birth) appear nowhere in the response."""
    assert [] == re.findall(re.escape(forbidden), both(isr_with_third_parties(config)), re.IGNORECASE)


def test_isr_response_names_the_subjects_with_their_findings(config: DraftingConfig) -> None:
    """Each named subject appears as the request names them, with their incidents or "No trace"."""
    lines = isr_with_third_parties(config).text.splitlines()
    found = lines.index("1. Alexandra Testperson, born 02/05/1991")
    not_found = lines.index("2. Dominic Nofinding, born 30/11/1985")
    incident = "- 01/11/2025, OCC/25/004417: Assault (Assault occasioning actual bodily harm); recorded as victim."
    assert (incident, "No trace.") == (lines[found + 1], lines[not_found + 1])
    assert "Purpose: Section 47 enquiry" in lines


def test_isr_findings_for_someone_not_named_are_refused(config: DraftingConfig) -> None:
    """A finding about a person the request does not name is never drafted."""
    stray = SubjectFinding(
        subject_id="S9", forename="Zebedee", surname="Quartermaine", date_of_birth=None, incidents=()
    )
    named = [
        SubjectFinding(
            subject_id=s.subject_id, forename=s.forename, surname=s.surname, date_of_birth=None, incidents=()
        )
        for s in inputs.isr_request().subjects
    ]
    with pytest.raises(BusinessError) as caught:
        draft_isr_response(inputs.isr_request(), [*named, stray], config)
    assert "isr_subject_not_named" == caught.value.code
    assert "Zebedee" not in str(caught.value)


def test_isr_subject_not_searched_is_refused(config: DraftingConfig) -> None:
    """A named subject without a finding is not reported as "No trace" by omission."""
    only = SubjectFinding(subject_id="S1", forename="Alexandra", surname="Testperson", date_of_birth=None, incidents=())
    with pytest.raises(BusinessError) as caught:
        draft_isr_response(inputs.isr_request(), [only], config)
    assert "isr_subject_not_searched" == caught.value.code
