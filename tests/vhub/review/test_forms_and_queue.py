"""The referral form round trip, field-path errors, and the queue's order, states, filters and counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import ValidationError

from tests.factories import raw_incident
from tests.vhub.review.conftest import NOW
from vhub.drafting import load_drafting_config, render_draft
from vhub.drafting.referral_form import ReferralForm
from vhub.models import validate_incident
from vhub.review.forms import FormField, build_fields, parse_form
from vhub.review.queue import queue_page, time_left
from vhub.store import Database
from vhub.triage import History, Workflow, load_config, triage


def referral_payload() -> dict:
    incident = validate_incident(raw_incident())
    result = triage(incident, History(), load_config(), now=NOW)
    action = next(a for a in result.actions if a.workflow is Workflow.referral)
    return render_draft(action, incident, result, load_drafting_config()).payload


def flatten(fields: list[FormField]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for field in fields:
        pairs += (
            flatten(field.children)
            if field.children
            else []
            if field.kind in ("group", "list")
            else [(field.path, field.value)]
        )
    return pairs


def test_the_referral_form_round_trips_through_html_inputs() -> None:
    """Every value shown in the form's inputs comes back as the same validated form."""
    payload = referral_payload()
    pairs = flatten(build_fields(ReferralForm, payload, {}))
    assert payload == ReferralForm.model_validate(parse_form(ReferralForm, pairs)).model_dump(mode="json")


def test_an_invalid_value_is_reported_on_its_input_and_other_edits_survive() -> None:
    """The error names the input by its path; the person's other changes are still in the rebuilt form."""
    pairs = flatten(build_fields(ReferralForm, referral_payload(), {}))
    pairs = [
        (p, "2099-01-01" if p == "children[0].date_of_birth" else "Health visitor" if p == "other_agencies" else v)
        for p, v in pairs
    ]
    typed = parse_form(ReferralForm, pairs)
    with pytest.raises(ValidationError) as caught:
        ReferralForm.model_validate(typed)
    errors = ReferralForm.describe_errors(caught.value)
    assert ["children[0].date_of_birth"] == list(errors)
    rebuilt = dict(flatten(build_fields(ReferralForm, typed, errors)))
    assert ("2099-01-01", "Health visitor") == (rebuilt["children[0].date_of_birth"], rebuilt["other_agencies"])


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=30), ("30 h 0 min left", "on time")),
        (timedelta(hours=3), ("3 h 0 min left", "due soon")),
        (timedelta(minutes=-20), ("overdue by 20 min", "overdue")),
        (timedelta(days=-3), ("overdue by 3 days", "overdue")),
    ],
)
def test_time_left_and_state(offset: timedelta, expected: tuple[str, str]) -> None:
    """Deadlines read as time left, and within four hours as due soon."""
    assert expected == time_left(NOW + offset, NOW)


def test_queue_order_filters_and_counts(db: Database, make_draft: Callable[..., int]) -> None:
    """Soonest deadline first, then highest risk; each filter option counts what it would show."""
    late_red = make_draft(risk="red", deadline=NOW + timedelta(hours=5))
    early = make_draft(risk="green", deadline=NOW + timedelta(hours=1))
    same_time_amber = make_draft(
        risk="amber", deadline=NOW + timedelta(hours=5), workflow="referral", authority="shropshire"
    )
    make_draft(status="rejected")
    with db.session() as session:
        page = queue_page(session, {}, 1, NOW)
        assert [early, late_red, same_time_amber] == [row.id for row in page.rows]
        assert {"encompass": 2, "referral": 1} == page.counts["type"]
        only_referrals = queue_page(session, {"type": "referral"}, 1, NOW)
        assert [same_time_amber] == [row.id for row in only_referrals.rows]
        assert {"shropshire": 1} == only_referrals.counts["authority"]
        assert {"encompass": 2, "referral": 1} == only_referrals.counts["type"]
