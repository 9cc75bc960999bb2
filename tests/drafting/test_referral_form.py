"""The referral form (MARF): validation messages name the field in plain English and never echo the value."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from tests.drafting import inputs
from vhub.drafting import DraftingConfig, ReferralForm, draft_referral


@pytest.fixture
def form_data(config: DraftingConfig) -> dict[str, Any]:
    """A drafted referral form as the review app would post it back: JSON values."""
    action = inputs.referral_action()
    incident = inputs.incident()
    return copy.deepcopy(draft_referral(action, incident, inputs.triage(incident, action), config).payload)


def errors_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        ReferralForm.model_validate(data)
    return ReferralForm.describe_errors(caught.value)


def test_drafted_form_round_trips_through_json(form_data: dict[str, Any]) -> None:
    """A stored payload validates back into the same form, so the review app can re-render it."""
    form = ReferralForm.model_validate(form_data)
    assert form_data == form.model_dump(mode="json")


def test_future_date_of_birth_is_refused(form_data: dict[str, Any]) -> None:
    """A child's date of birth after today is refused, naming the child by position, not by value."""
    form_data["children"][0]["date_of_birth"] = "2100-01-01"
    assert {"children[0].date_of_birth": "Child 1: date of birth is in the future"} == errors_of(form_data)


def test_empty_child_list_is_refused(form_data: dict[str, Any]) -> None:
    """A referral names at least one child."""
    form_data["children"] = []
    assert {"children": "Children referred must include at least one child"} == errors_of(form_data)


def test_bad_email_is_refused_without_echoing_it(form_data: dict[str, Any]) -> None:
    """An email address without a domain is refused; the message says which field and how to fix it."""
    form_data["referrer"]["secure_email"] = "vhub.referrals-at-police"
    expected = {
        "referrer.secure_email": "Referrer's secure email is not a valid email address (for example name@agency.gov.uk)"
    }
    assert expected == errors_of(form_data)


def test_nested_fields_are_named_in_messages(form_data: dict[str, Any]) -> None:
    """Errors inside a household member's address and a missing field are named by label and position."""
    form_data["parents_carers_household"][0]["address"]["postcode"] = "NOT A POSTCODE"
    del form_data["concern"]["what"]
    expected = {
        "parents_carers_household[0].address.postcode": "Household member 1: postcode is not a UK postcode "
        "(for example WR1 2AB)",
        "concern.what": "Description of the concern is missing",
    }
    assert expected == errors_of(form_data)


def test_field_labels_cover_every_field() -> None:
    """The review app finds a label for every field path, list items marked with []."""
    labels = ReferralForm.field_labels()
    expected = {
        "referrer.secure_email": "Referrer's secure email",
        "consent.consent_to_confirm": "Consent to be confirmed by the reviewer",
        "children": "Children referred",
        "children[].date_of_birth": "Date of birth",
        "children[].address.postcode": "Postcode",
        "parents_carers_household[].parental_responsibility": "Has parental responsibility",
        "concern.immediate_protection_needed": "Immediate protection needed",
        "parental_factors.domestic_abuse": "Domestic abuse",
        "threshold_level": "Threshold level",
    }
    assert expected == {path: labels[path] for path in expected}
    assert [] == [path for path, label in labels.items() if not label]
