"""Drafting: each action triage decided becomes a draft (form fields and text) for a person to review."""

from __future__ import annotations

from vhub.drafting.config import DraftingConfig, load_drafting_config
from vhub.drafting.describe import describe_person, summarise_for_subject
from vhub.drafting.drafts import (
    DraftContent,
    draft_encompass,
    draft_isr_response,
    draft_marac,
    draft_referral,
    render_draft,
)
from vhub.drafting.environment import environment
from vhub.drafting.referral_form import ReferralForm

__all__ = [
    "DraftContent",
    "DraftingConfig",
    "ReferralForm",
    "describe_person",
    "draft_encompass",
    "draft_isr_response",
    "draft_marac",
    "draft_referral",
    "environment",
    "load_drafting_config",
    "render_draft",
    "summarise_for_subject",
]
