"""The referral quality audit's settings (config/referral_audit.toml): the monthly sample's size and spread over front
doors and risks, and the scoring form's criteria; and the month a sample is drawn for."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vhub.errors import ConfigurationError
from vhub.models import LONDON
from vhub.triage.config import CONFIG_DIR, load_config, read_checked

AUDIT_FILE = CONFIG_DIR / "referral_audit.toml"
RISKS = ("red", "amber", "green")


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskWeights(_Config):
    red: int = Field(ge=1, le=10)
    amber: int = Field(ge=1, le=10)
    green: int = Field(ge=1, le=10)

    def of(self, risk: str | None) -> int:
        """A referral of no known risk is weighed as green: never over-sampled by accident."""
        return int(getattr(self, risk if risk in RISKS else "green"))


class Sample(_Config):
    size: int = Field(ge=1, le=1000)  # referrals a month in all
    min_per_authority: int = Field(ge=0, le=100)
    risk_weights: RiskWeights


class Scale(_Config):
    lowest: int = Field(ge=0, le=10)
    highest: int = Field(ge=1, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.highest <= self.lowest:
            raise ValueError("scale.highest must be more than scale.lowest")
        return self

    @property
    def scores(self) -> range:
        return range(self.lowest, self.highest + 1)


class Criterion(_Config):
    key: str = Field(pattern=r"^[a-z][a-z_]{0,39}$")
    label: str = Field(min_length=1, max_length=80)
    question: str = Field(min_length=1, max_length=300)
    descriptors: dict[int, str]


class Comment(_Config):
    max_length: int = Field(ge=1, le=10_000)


class AuditConfig(_Config):
    sample: Sample
    scale: Scale
    criteria: tuple[Criterion, ...] = Field(min_length=1, max_length=10)
    comment: Comment

    @model_validator(mode="after")
    def _complete(self) -> AuditConfig:
        keys = [criterion.key for criterion in self.criteria]
        if len(set(keys)) != len(keys):
            raise ValueError("each [[criteria]] needs its own key: two share one")
        wanted = set(self.scale.scores)
        for number, criterion in enumerate(self.criteria):
            if set(criterion.descriptors) != wanted or not all(text.strip() for text in criterion.descriptors.values()):
                raise ValueError(
                    f"criteria[{number}].descriptors ({criterion.key}) must give words for each score from "
                    f"{self.scale.lowest} to {self.scale.highest}, and only those"
                )
        return self

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(criterion.key for criterion in self.criteria)


@cache
def load_audit_config(path: Path = AUDIT_FILE, authorities: tuple[str, ...] | None = None) -> AuditConfig:
    """config/referral_audit.toml, checked (cached per file); ConfigurationError naming the file and the setting.
    Given the ``authorities``, a sample too small to hold each one's minimum is refused."""
    config = read_checked(path, AuditConfig)
    if authorities is not None and config.sample.size < config.sample.min_per_authority * len(authorities):
        raise ConfigurationError(
            f"{path} is not valid: sample.size ({config.sample.size}) cannot hold sample.min_per_authority "
            f"({config.sample.min_per_authority}) for each of the {len(authorities)} authorities of "
            "config/authorities.toml: raise the size or lower the minimum."
        )
    return config


def audit_config() -> AuditConfig:
    """config/referral_audit.toml, checked against the authorities of config/authorities.toml."""
    return load_audit_config(authorities=tuple(sorted(load_config().authorities)))


def month_seed(month: str) -> int:
    """The sample's seed: the month itself, hashed, so a draw is the same wherever and however often it is made."""
    return int.from_bytes(hashlib.sha256(f"vhub referral audit {month}".encode()).digest()[:8], "big")


def previous_month(moment: datetime) -> str:
    """``YYYY-MM`` of the UK month before the one ``moment`` falls in (what the 1st's scheduled draw samples)."""
    local = moment.astimezone(LONDON)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"
