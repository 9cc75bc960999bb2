"""Drafting configuration from ``config/drafting.toml``: the referrer, consent and threshold policy, fixed wording.

Loaded once at the entry point and passed down, with triage's policy (config/triage.toml: ages, the MARAC minimum
age, visible high risk) so a draft applies the same figures triage decided by; a wrong file raises
ConfigurationError naming the file and key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vhub.drafting.referral_form import ReferrerDetails, ThresholdLevel
from vhub.errors import ConfigurationError
from vhub.models import DASH_KEYS, describe_validation_error
from vhub.settings import PROJECT_ROOT
from vhub.triage.config import TriagePolicy, load_config
from vhub.triage.model import RiskLevel

DEFAULT_PATH = PROJECT_ROOT / "config" / "drafting.toml"
_REFERRED_RISKS = (RiskLevel.red, RiskLevel.amber, RiskLevel.green)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class ConsentPolicy(_Section):
    """Consent is not needed to refer where there is a risk of significant harm; otherwise it is unknown."""

    not_needed_at: frozenset[RiskLevel] = Field(description="risk levels at which consent is not needed")
    not_needed_reason: str = Field(min_length=1, description="the reason written on the form")


class ReferralPolicy(_Section):
    source: str = Field(min_length=1, description="the source of the concern written on the form")
    immediate_protection_at: frozenset[RiskLevel] = Field(
        description="risk levels at which the form says immediate protection is needed (the reviewer confirms)"
    )
    threshold: dict[RiskLevel, ThresholdLevel] = Field(description="threshold level for each referred risk level")

    @field_validator("threshold")
    @classmethod
    def _every_referred_risk(cls, value: dict[RiskLevel, ThresholdLevel]) -> dict[RiskLevel, ThresholdLevel]:
        missing = [risk.value for risk in _REFERRED_RISKS if risk not in value]
        if missing:
            raise ValueError(f"has no threshold level for risk {', '.join(missing)}")
        return value


class MaracPolicy(_Section):
    high_harm_questions: tuple[str, ...] = Field(description="DASH question keys listed as high-harm answers")
    coordinator_note: str = Field(min_length=1, description="closing note to the MARAC coordinator")

    @field_validator("high_harm_questions")
    @classmethod
    def _known_questions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(DASH_KEYS))
        if unknown:
            raise ValueError(f"names unknown DASH questions: {', '.join(unknown)}")
        return value


class IsrPolicy(_Section):
    records_searched: str = Field(min_length=1, description="which records a 'no trace' covers")
    sign_off: str = Field(min_length=1, description="closing lines of every ISR response")


class DraftingConfig(_Section):
    referrer: ReferrerDetails
    consent: ConsentPolicy
    referral: ReferralPolicy
    marac: MaracPolicy
    isr: IsrPolicy
    triage: TriagePolicy = Field(description="triage's policy, from config/triage.toml, never from this file")


def load_drafting_config(path: Path = DEFAULT_PATH, triage: TriagePolicy | None = None) -> DraftingConfig:
    """Read and validate the drafting configuration file; ``triage``: the policy of config/triage.toml unless given."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigurationError(f"The drafting configuration {path} does not exist.") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"The drafting configuration {path} is not valid TOML: {error}.") from None
    if "triage" in data:  # one place for each threshold: a second copy here would drift
        raise ConfigurationError(
            f"The drafting configuration {path} has a [triage] section: triage's figures belong in config/triage.toml."
        )
    try:
        return DraftingConfig.model_validate({**data, "triage": triage or load_config().policy})
    except ValidationError as error:
        reasons = "; ".join(describe_validation_error(error))
        raise ConfigurationError(f"The drafting configuration {path} is wrong: {reasons}.") from None
