"""Triage policy from config/: risk weights and thresholds, the authorities, the school directory."""

from __future__ import annotations

import csv
import tomllib
from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vhub.errors import ConfigurationError
from vhub.models import describe_validation_error
from vhub.portals import children_per_referral
from vhub.settings import PROJECT_ROOT

CONFIG_DIR = PROJECT_ROOT / "config"


_Checked = TypeVar("_Checked", bound=BaseModel)


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskPolicy(_Config):
    red_from: int
    amber_from: int
    green_from: int
    dash_high_risk_yes: int = Field(ge=1, le=27)
    weights: dict[str, int]
    high_harm: dict[str, str]
    incident_types: dict[str, int]

    @model_validator(mode="after")
    def _ordered(self) -> RiskPolicy:
        if not self.red_from > self.amber_from > self.green_from > 0:
            raise ValueError("thresholds must fall: red_from > amber_from > green_from > 0")
        return self


class RepeatPolicy(_Config):
    window_days: int = Field(gt=0)
    incidents: int = Field(ge=2)


class AgePolicy(_Config):
    """Who is a child, by age on the day of the incident (vhub/triage/ages.py), whatever their role."""

    child_under: int = Field(gt=0)  # years: under this a person is a child
    baby_under_months: int = Field(gt=0)  # months: a linked baby younger than this is a risk indicator


class WorkflowPolicy(_Config):
    encompass_min_age: int = Field(ge=0)  # years; Encompass covers every child from this age
    marac_min_victim_age: int = Field(ge=0)
    marac_repeat_incidents: int = Field(ge=2)
    marac_repeat_window_days: int = Field(gt=0)


class DeadlinePolicy(_Config):
    working_day_start: time
    working_day_end: time
    referral_red_working_hours: float = Field(gt=0)
    referral_amber_working_hours: float = Field(gt=0)
    referral_green_hours: float = Field(gt=0)
    marac_working_hours: float = Field(gt=0)


class PriorityPolicy(_Config):
    raise_within_hours: float = Field(ge=0)


class TriagePolicy(_Config):
    risk: RiskPolicy
    ages: AgePolicy
    repeat: RepeatPolicy
    workflows: WorkflowPolicy
    deadlines: DeadlinePolicy
    priority: PriorityPolicy


class Authority(_Config):
    key: str
    name: str
    childrens_services: str
    education_team: str
    marac: str
    policing_area: str
    postcode_districts: tuple[str, ...]
    encompass_form: Literal["full", "minimised"]
    school_day_start: time
    # The first and last days the closures are known for; a day outside them has no term dates, so a
    # deadline on it is flagged for the reviewer. Neither given: no day of this authority is covered.
    term_dates_from: date | None = None
    term_dates_until: date | None = None
    closures: tuple[tuple[date, date], ...]

    @model_validator(mode="after")
    def _closures_within_term_dates(self) -> Authority:
        first, last = self.term_dates_from, self.term_dates_until
        if (first is None) != (last is None):
            raise ValueError(f"{self.key}: give both term_dates_from and term_dates_until, or neither")
        if first is not None and last is not None and first > last:
            raise ValueError(f"{self.key}: term_dates_from is after term_dates_until")
        for start, end in self.closures:
            if start > end:
                raise ValueError(f"{self.key}: the closure {start} to {end} ends before it starts")
            if first is not None and last is not None and not first <= start <= end <= last:
                raise ValueError(
                    f"{self.key}: the closure {start} to {end} is outside term_dates_from to term_dates_until "
                    f"({first} to {last}): move the range to cover it"
                )
        return self


class CalendarPolicy(_Config):
    warn_days_before_end: int = Field(ge=1)  # days before an authority's term dates end that start-up warns


class School(_Config):
    urn: str
    name: str
    phase: str
    authority: str
    postcode_district: str


class TriageConfig(_Config):
    policy: TriagePolicy
    calendar: CalendarPolicy
    authorities: dict[str, Authority]
    schools: dict[str, School]  # by normalised name
    # authority key -> most children one referral may name (config/portals.toml); absent: all in one referral
    children_per_referral: dict[str, int] = {}

    def authority_for_postcode(self, postcode: str | None) -> Authority | None:
        if not postcode:
            return None
        district = postcode.split(" ")[0].upper()
        for authority in self.authorities.values():
            if district in authority.postcode_districts:
                return authority
        return None

    def school_named(self, name: str | None) -> School | None:
        return self.schools.get(normalise_school(name)) if name else None


def normalise_school(name: str | None) -> str:
    return " ".join((name or "").casefold().replace("’", "'").split())


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"{path} cannot be read: {error}") from None


def _invalid(path: Path, error: ValidationError) -> ConfigurationError:
    return ConfigurationError(f"{path} is not valid: " + "; ".join(describe_validation_error(error)))


def read_checked(path: Path, model: type[_Checked]) -> _Checked:
    """A TOML file of config/ validated as ``model``; ConfigurationError naming the file and each setting to fix."""
    try:
        return model.model_validate(_read_toml(path))
    except ValidationError as error:
        raise _invalid(path, error) from None


def _check_districts(authorities: dict[str, Authority], path: Path) -> None:
    """A postcode district belongs to one authority: claimed by two, its children would go to whichever is
    listed first, so the configuration is refused instead."""
    owners: dict[str, list[str]] = {}
    for key, authority in authorities.items():
        for district in authority.postcode_districts:
            owners.setdefault(district.upper(), []).append(key)
    shared = {district: keys for district, keys in sorted(owners.items()) if len(keys) > 1}
    if shared:
        listed = "; ".join(f"{district} by {' and '.join(keys)}" for district, keys in shared.items())
        raise ConfigurationError(
            f"{path}: a postcode district must belong to one authority, but these are claimed twice: {listed}. "
            "Keep each in the authority whose children's services serve it."
        )


@cache
def load_config(directory: Path = CONFIG_DIR) -> TriageConfig:
    """Read config/triage.toml, config/authorities.toml, config/schools.csv and the children each referral may
    name from config/portals.toml (cached per folder)."""
    triage_path, authorities_path, schools_path = (
        directory / "triage.toml",
        directory / "authorities.toml",
        directory / "schools.csv",
    )
    try:
        policy = TriagePolicy.model_validate(_read_toml(triage_path))
    except ValidationError as error:
        raise _invalid(triage_path, error) from None
    try:
        raw = _read_toml(authorities_path)
        calendar = CalendarPolicy.model_validate(raw.get("calendar", {}))
        authorities = {
            key: Authority.model_validate({"key": key, **value}) for key, value in raw.get("authorities", {}).items()
        }
    except ValidationError as error:
        raise _invalid(authorities_path, error) from None
    _check_districts(authorities, authorities_path)
    try:
        with schools_path.open(encoding="utf-8", newline="") as handle:
            schools = {normalise_school(row["name"]): School.model_validate(row) for row in csv.DictReader(handle)}
    except OSError as error:
        raise ConfigurationError(f"{schools_path} cannot be read: {error}") from None
    except (ValidationError, KeyError) as error:
        raise ConfigurationError(f"{schools_path} has a row that is not valid: {error}") from None
    unknown = sorted({school.authority for school in schools.values()} - set(authorities))
    if unknown:
        raise ConfigurationError(f"{schools_path} names authorities not in {authorities_path}: {', '.join(unknown)}")
    portals = directory / "portals.toml"
    per_referral = {key: n for key in authorities if (n := children_per_referral(key, portals)) is not None}
    return TriageConfig(
        policy=policy,
        calendar=calendar,
        authorities=authorities,
        schools=schools,
        children_per_referral=per_referral,
    )
