"""Each workflow's draft: golden texts, the form it fills, titles without personal data, and its refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.drafting import inputs
from tests.factories import raw_incident
from vhub.drafting import (
    DraftContent,
    DraftingConfig,
    ReferralForm,
    draft_encompass,
    draft_isr_response,
    draft_marac,
    draft_referral,
    render_draft,
    summarise_for_subject,
)
from vhub.drafting.referral_form import ThresholdLevel
from vhub.errors import BusinessError
from vhub.isr import SubjectFinding
from vhub.models import validate_incident
from vhub.triage import History, load_config, triage
from vhub.triage.model import Action, RiskLevel, Workflow

Golden = Callable[[str, str], None]


def isr_draft(config: DraftingConfig) -> DraftContent:
    """The response to the hand-built request: the victim with two incidents, the other subject with none."""
    found = SubjectFinding(
        subject_id="S1",
        forename="Alexandra",
        surname="Testperson",
        date_of_birth=None,
        incidents=(
            summarise_for_subject(inputs.incident(), "N100001"),
            summarise_for_subject(inputs.third_party_incident(), "N100001"),
        ),
    )
    none = SubjectFinding(subject_id="S2", forename="Dominic", surname="Nofinding", date_of_birth=None, incidents=())
    return draft_isr_response(inputs.isr_request(), [found, none], config, prepared_at=inputs.PREPARED_AT)


def test_referral_narrative_golden(config: DraftingConfig, golden: Golden) -> None:
    """The referral narrative for two children reads as the golden file."""
    incident = inputs.incident_with_two_children()
    action = inputs.referral_action(("N100003", "N100004"))
    golden("referral_narrative", draft_referral(action, incident, inputs.triage(incident, action), config).text)


def test_encompass_full_golden(config: DraftingConfig, golden: Golden) -> None:
    """The full Operation Encompass notice reads as the golden file."""
    incident = inputs.incident_child_present()
    action = inputs.encompass_action("full")
    golden("encompass_full", draft_encompass(action, incident, inputs.triage(incident, action), config).text)


def test_encompass_minimised_golden(config: DraftingConfig, golden: Golden) -> None:
    """The minimised Operation Encompass notice reads as the golden file."""
    incident = inputs.incident()
    action = inputs.encompass_action("minimised")
    golden("encompass_minimised", draft_encompass(action, incident, inputs.triage(incident, action), config).text)


def test_marac_summary_golden(config: DraftingConfig, golden: Golden) -> None:
    """The MARAC summary for a victim with 15 DASH "yes" answers reads as the golden file."""
    incident = inputs.high_risk_incident()
    action = inputs.marac_action()
    result = inputs.triage(incident, action, risk=RiskLevel.red)
    golden("marac_summary", draft_marac(action, incident, result, config).text)


def test_isr_response_golden(config: DraftingConfig, golden: Golden) -> None:
    """The ISR response with a subject found and one not found reads as the golden file."""
    golden("isr_response", isr_draft(config).text)


def test_referral_fills_the_form(config: DraftingConfig) -> None:
    """Children are the action's subjects, the others are household with roles, the suspect is named."""
    incident = inputs.incident_with_two_children()
    action = inputs.referral_action(("N100003", "N100004"))
    draft = draft_referral(action, incident, inputs.triage(incident, action), config)
    form = ReferralForm.model_validate(draft.payload)
    assert ["Casey", "Dylan"] == [child.forename for child in form.children]
    assert [("Alexandra Testperson", "victim"), ("Brandon Examplename", "suspect")] == [
        (member.name, member.role_in_incident) for member in form.parents_carers_household
    ]
    assert "Brandon Examplename, aged 38, ex-partner of victim" == form.concern.alleged_perpetrator
    assert (True, None, None) == (
        form.parental_factors.domestic_abuse,
        form.parental_factors.mental_health,
        form.parental_factors.substance_misuse,
    )
    assert draft.text.strip() == form.narrative
    assert "Referral — Worcestershire Children First — 2 children" == draft.title


@pytest.mark.parametrize(
    ("risk", "expected"),
    [
        (RiskLevel.red, (ThresholdLevel.child_protection, True, "Not needed: there is a risk of significant harm")),
        (RiskLevel.amber, (ThresholdLevel.targeted, False, None)),
        (RiskLevel.green, (ThresholdLevel.targeted, False, None)),
    ],
)
def test_referral_policy_follows_risk(
    config: DraftingConfig, risk: RiskLevel, expected: tuple[ThresholdLevel, bool, str | None]
) -> None:
    """Red is child protection, needs no consent and immediate protection; consent is always flagged to confirm."""
    incident = inputs.incident()
    action = inputs.referral_action()
    form = ReferralForm.model_validate(
        draft_referral(action, incident, inputs.triage(incident, action, risk=risk), config).payload
    )
    reason = form.consent.consent_not_needed_reason
    assert expected == (
        form.threshold_level,
        form.concern.immediate_protection_needed,
        reason.removesuffix(" to the child.") if reason else None,
    )
    assert (True, None, None) == (form.consent.consent_to_confirm, form.consent.consent_given, form.consent.consent_by)


def test_blue_risk_is_not_referred(config: DraftingConfig) -> None:
    """A referral at a risk level with no threshold (blue: not shared) goes back to a person."""
    incident = inputs.incident()
    action = inputs.referral_action()
    with pytest.raises(BusinessError) as caught:
        draft_referral(action, incident, inputs.triage(incident, action, risk=RiskLevel.blue), config)
    assert "risk_not_referred" == caught.value.code


def test_form_that_cannot_be_filled_says_why_without_names(config: DraftingConfig) -> None:
    """A 'child' recorded as 19 cannot go on the form; the error names the field, not the child."""
    raw = raw_incident()
    raw["people"][2].update(date_of_birth=None, age_years=19)
    incident = validate_incident(raw)
    action = inputs.referral_action()
    with pytest.raises(BusinessError) as caught:
        draft_referral(action, incident, inputs.triage(incident, action), config)
    expected = (
        "The referral form for incident OCC/26/000101 could not be drafted: Child 1: age in years (when the date "
        "of birth is not known) must be a whole number from 0 to 17."
    )
    assert ("referral_form_invalid", expected) == (caught.value.code, caught.value.message)


def test_render_draft_dispatches_by_workflow(config: DraftingConfig) -> None:
    """render_draft gives the same draft as the workflow's own function."""
    incident = inputs.high_risk_incident()
    actions = (inputs.referral_action(), inputs.encompass_action("full"), inputs.marac_action())
    result = inputs.triage(incident, *actions, risk=RiskLevel.red)
    drafters = (draft_referral, draft_encompass, draft_marac)
    assert [drafter(a, incident, result, config) for drafter, a in zip(drafters, actions, strict=True)] == [
        render_draft(action, incident, result, config) for action in actions
    ]


def test_render_draft_refuses_isr_actions(config: DraftingConfig) -> None:
    """ISR responses are drafted from the request, not from an incident's triage."""
    incident = inputs.incident()
    action = inputs.referral_action().model_copy(update={"workflow": Workflow.isr_response})
    with pytest.raises(ValueError, match="draft_isr_response"):
        render_draft(action, incident, inputs.triage(incident, action), config)


def test_triage_of_another_version_is_refused(config: DraftingConfig) -> None:
    """An action from the triage of an older version of the incident is not drafted."""
    incident = inputs.incident()
    action = inputs.encompass_action("full")
    newer = inputs.incident(last_modified="15/03/2026 09:00:00 GMT")
    with pytest.raises(BusinessError) as caught:
        draft_encompass(action, newer, inputs.triage(incident, action), config)
    assert "triage_out_of_date" == caught.value.code


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (inputs.encompass_action("full", ("N100003", "N100004")), "encompass_one_child"),
        (inputs.encompass_action(None), "encompass_policy_unknown"),
        (inputs.encompass_action("summary"), "encompass_policy_unknown"),
    ],
)
def test_encompass_refusals(config: DraftingConfig, action: Action, code: str) -> None:
    """A notice about two children, or with no known form, goes back to a person."""
    incident = inputs.incident_with_two_children()
    with pytest.raises(BusinessError) as caught:
        draft_encompass(action, incident, inputs.triage(incident, action), config)
    assert code == caught.value.code


def test_marac_refuses_a_victim_under_16(config: DraftingConfig) -> None:
    """MARAC is for victims aged 16 or over."""
    raw = raw_incident()
    raw["people"][0]["date_of_birth"] = "01/01/2011"
    incident = validate_incident(raw)
    action = inputs.marac_action()
    with pytest.raises(BusinessError) as caught:
        draft_marac(action, incident, inputs.triage(incident, action), config)
    assert "marac_victim_age" == caught.value.code
    assert "MARAC is for victims aged 16 or over" in caught.value.message


def test_marac_lists_only_configured_high_harm_answers(config: DraftingConfig) -> None:
    """Of the 15 "yes" answers, only those configured as high-harm are listed, in the configured order."""
    incident = inputs.high_risk_incident()
    action = inputs.marac_action()
    payload = draft_marac(action, incident, inputs.triage(incident, action, risk=RiskLevel.red), config).payload
    expected = [
        "injury",
        "separated_past_year",
        "abuse_getting_worse",
        "controlling_or_jealous",
        "stalking_harassment",
        "strangulation_choking",
        "threats_to_kill",
    ]
    assert (15, expected) == (payload["dash"]["yes_count"], payload["dash"]["high_harm_answers"])


def test_titles_hold_no_personal_data(config: DraftingConfig) -> None:
    """Queue titles name the workflow and recipient, never a person."""
    incident = inputs.incident_with_two_children()
    actions = (inputs.referral_action(), inputs.encompass_action("minimised"), inputs.marac_action())
    result = inputs.triage(incident, *actions)
    titles = [render_draft(action, incident, result, config).title for action in actions] + [isr_draft(config).title]
    assert [
        "Referral — Worcestershire Children First — 1 child",
        "Operation Encompass notice — Brookfield Primary School (URN 123456)",
        "MARAC referral — Worcestershire MARAC",
        "ISR response — ISR-2026-00042 — 2 subjects",
    ] == titles


def test_payload_must_be_json(config: DraftingConfig) -> None:
    """A draft whose payload could not be stored as JSON is refused."""
    draft = isr_draft(config)
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        DraftContent(**{**draft.model_dump(), "payload": {"when": object()}})


def test_full_notice_with_nobody_else_linked(config: DraftingConfig) -> None:
    """When only the child is linked, the circumstances give the incident's kind alone."""
    raw = raw_incident()
    raw["people"] = raw["people"][2:]
    incident = validate_incident(raw)
    action = inputs.encompass_action("full")
    payload = draft_encompass(action, incident, inputs.triage(incident, action), config).payload
    assert "Domestic abuse (Common assault)." == payload["circumstances"]


def with_triage(config: DraftingConfig, **sections: dict[str, Any]) -> DraftingConfig:
    """The drafting configuration with some of triage's figures (config/triage.toml) changed."""
    policy = config.triage
    changed = {name: getattr(policy, name).model_copy(update=values) for name, values in sections.items()}
    return config.model_copy(update={"triage": policy.model_copy(update=changed)})


def test_marac_minimum_age_is_the_configured_one(config: DraftingConfig) -> None:
    """With MARAC configured for victims of 18 or over, a victim of 17 is refused with that age in the reason."""
    raw = raw_incident()
    raw["people"][0]["date_of_birth"] = "01/01/2009"
    incident = validate_incident(raw)
    action = inputs.marac_action()
    draft_marac(action, incident, inputs.triage(incident, action), config)  # 17 is old enough as shipped
    with pytest.raises(BusinessError) as caught:
        draft_marac(
            action,
            incident,
            inputs.triage(incident, action),
            with_triage(config, workflows={"marac_min_victim_age": 18}),
        )
    assert "MARAC is for victims aged 18 or over" in caught.value.message


def test_marac_refuses_a_victim_with_no_age(config: DraftingConfig) -> None:
    """A victim with neither a date of birth nor an age is not assumed old enough for MARAC."""
    raw = raw_incident()
    raw["people"][0]["date_of_birth"] = None
    incident = validate_incident(raw)
    action = inputs.marac_action()
    with pytest.raises(BusinessError) as caught:
        draft_marac(action, incident, inputs.triage(incident, action), config)
    assert ("marac_victim_age", True) == (caught.value.code, "has no recorded age" in caught.value.message)


def test_marac_summary_quotes_the_configured_visible_high_risk(config: DraftingConfig) -> None:
    """The summary's DASH line gives the configured number of yes answers that is visible high risk."""
    incident = inputs.high_risk_incident()
    action = inputs.marac_action()
    result = inputs.triage(incident, action, risk=RiskLevel.red)
    text = draft_marac(action, incident, result, with_triage(config, risk={"dash_high_risk_yes": 12})).text
    assert "15 questions answered yes (12 or more is visible high risk)." in text


def test_marac_lists_children_by_age_not_by_role(config: DraftingConfig) -> None:
    """A witness of 15 is listed among the children; someone recorded as a child but 18 on the day is not."""
    raw = raw_incident()
    raw["people"][2]["date_of_birth"] = "13/03/2008"
    raw["people"].append({**raw["people"][1], "nominal_ref": "N100009", "role": "witness", "age_years": 15})
    incident = validate_incident(raw)
    action = inputs.marac_action()
    payload = draft_marac(action, incident, inputs.triage(incident, action, risk=RiskLevel.red), config).payload
    assert [15] == [child["age_years"] for child in payload["children"]]


def test_a_child_victim_on_a_referral_is_named_by_role(config: DraftingConfig) -> None:
    """The narrative says a referred child was the victim; a child recorded as a child gets no such line."""
    raw = raw_incident()
    raw["people"][0]["date_of_birth"] = "01/06/2010"
    incident = validate_incident(raw)
    action = inputs.referral_action(("N100001", "N100003"))
    text = draft_referral(action, incident, inputs.triage(incident, action), config).text
    assert 1 == text.count("Recorded in the incident as:")
    assert "(aged 15)\n  Recorded in the incident as: victim\n" in text


def test_one_child_per_referral_makes_one_draft_per_child(config: DraftingConfig) -> None:
    """Triaged for a portal taking one child per referral, two children make two drafts: one child each, distinct
    subjects and titles, the sibling listed in the household."""
    incident = inputs.incident_with_two_children()
    triage_config = load_config().model_copy(update={"children_per_referral": {"worcestershire": 1}})
    result = triage(incident, History(), triage_config, now=inputs.TRIAGED_AT)
    drafts = [render_draft(a, incident, result, config) for a in result.actions if a.workflow is Workflow.referral]
    assert [
        ("children:worcestershire:N100003", ["Casey"], "(referral 1 of 2)"),
        ("children:worcestershire:N100004", ["Dylan"], "(referral 2 of 2)"),
    ] == [
        (
            draft.subject,
            [child["forename"] for child in draft.payload["children"]],
            draft.title.removeprefix("Referral — Worcestershire Children First (Family Front Door) — 1 child "),
        )
        for draft in drafts
    ]
    household = [member["name"] for member in drafts[0].payload["parents_carers_household"]]
    assert "Dylan Testperson" in household
