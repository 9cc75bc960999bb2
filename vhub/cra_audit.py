"""The child risk assessment quality audit: config/cra_audit.toml's rubric, and the score of one assessment against it.

``score`` is pure: the same assessment, incident and rubric always give the same score and the same list of what it
lacks. Triage stores each result (vhub/store/cra_scores.py); reports and pages read what was stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vhub.errors import ConfigurationError
from vhub.models import ChildRiskAssessment, Incident
from vhub.triage.config import CONFIG_DIR, load_config, read_checked

CRA_AUDIT_FILE = CONFIG_DIR / "cra_audit.toml"
CRITERIA = ("named_with_age", "voice_of_child", "risk_factors", "actions_owned", "completed_on_time")
"""The rubric's criteria, in the order reports show them; config/cra_audit.toml weighs and words each one."""


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Criterion(_Config):
    weight: int = Field(ge=0, le=100)
    label: str = Field(min_length=1, max_length=60)
    lacks: str = Field(min_length=1, max_length=300)  # what a reviewer reads when an assessment lacks it


class Rubric(_Config):
    completed_within_hours: int = Field(ge=1, le=24 * 14)
    lowest_per_area: int = Field(ge=1, le=500)
    default_contact: str = Field(min_length=1, max_length=120)
    criteria: dict[str, Criterion]
    contacts: dict[str, str] = {}  # local policing area -> the role that follows up its assessments

    @model_validator(mode="after")
    def _complete(self) -> Rubric:
        missing = [key for key in CRITERIA if key not in self.criteria]
        unknown = sorted(set(self.criteria) - set(CRITERIA))
        if missing or unknown:
            problems = [f"[criteria.{key}] is missing" for key in missing]
            problems += [f"[criteria.{key}] is not a criterion" for key in unknown]
            raise ValueError("; ".join(problems) + f" (the criteria are {', '.join(CRITERIA)})")
        if not sum(criterion.weight for criterion in self.criteria.values()):
            raise ValueError("the criteria's weights add up to 0: give at least one a weight")
        return self

    def lacks(self, key: str) -> str:
        """What an assessment lacking ``key`` lacks, in the reviewer's words."""
        return self.criteria[key].lacks.replace("{hours}", str(self.completed_within_hours))

    def contact(self, area: str | None) -> str:
        """The role that follows up ``area``'s assessments."""
        return self.contacts.get(area or "", self.default_contact)


@dataclass(frozen=True)
class Lack:
    criterion: str  # a key of CRITERIA
    label: str
    lacks: str


@dataclass(frozen=True)
class CraScore:
    score: int  # percent of the rubric's weight met, 0 to 100
    lacking: tuple[Lack, ...]  # in the order of CRITERIA

    def as_json(self) -> list[dict[str, str]]:
        return [{"criterion": lack.criterion, "label": lack.label, "lacks": lack.lacks} for lack in self.lacking]


def _met(key: str, cra: ChildRiskAssessment, incident: Incident, rubric: Rubric) -> bool:
    if key == "named_with_age":
        child = next((person for person in incident.people if person.nominal_ref == cra.nominal_ref), None)
        return child is not None and bool(child.forename and child.surname) and cra.age_years is not None
    if key == "voice_of_child":
        return bool(cra.voice_of_child and cra.voice_of_child.strip())
    if key == "risk_factors":
        return bool(cra.risk_factors)
    if key == "actions_owned":
        return bool(cra.actions) and all(action.owner for action in cra.actions)
    return cra.completed_at - incident.occurred_at <= timedelta(hours=rubric.completed_within_hours)


def score(cra: ChildRiskAssessment, incident: Incident, rubric: Rubric) -> CraScore:
    """Score one child risk assessment of ``incident``: the share of the rubric's weight it meets, and what it
    lacks. An assessment recorded before the audit's fields existed lacks them (it is never refused)."""
    total = sum(rubric.criteria[key].weight for key in CRITERIA)
    met = 0
    lacking = []
    for key in CRITERIA:
        criterion = rubric.criteria[key]
        if _met(key, cra, incident, rubric):
            met += criterion.weight
        elif criterion.weight:
            lacking.append(Lack(key, criterion.label, rubric.lacks(key)))
    return CraScore(round(100 * met / total), tuple(lacking))


@cache
def load_rubric(path: Path = CRA_AUDIT_FILE, areas: tuple[str, ...] | None = None) -> Rubric:
    """config/cra_audit.toml, checked (cached per file); ConfigurationError naming the file and the setting to fix.
    Given the known policing ``areas``, a contact for any other is refused (a misspelt area would be ignored)."""
    rubric = read_checked(path, Rubric)
    if areas is not None:
        unknown = sorted(set(rubric.contacts) - set(areas))
        if unknown:
            raise ConfigurationError(
                f"{path} has [contacts] for {', '.join(unknown)}, not a policing_area of config/authorities.toml: "
                f"use one of {', '.join(areas)}."
            )
    return rubric


def policing_areas() -> list[str]:
    """The local policing areas of config/authorities.toml, sorted."""
    return sorted({authority.policing_area for authority in load_config().authorities.values()})


def cra_rubric() -> Rubric:
    """config/cra_audit.toml, checked against the policing areas of config/authorities.toml (start-up, each job)."""
    return load_rubric(areas=tuple(policing_areas()))
