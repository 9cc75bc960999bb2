"""The multi-agency referral form (MARF) to children's services, with errors that name the field.

Values nobody recorded are None, never guessed. The review app re-renders this form with the messages
from ``ReferralForm.describe_errors``, which say which field is wrong and never repeat its value.
"""

from __future__ import annotations

import re
import types
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from vhub.models import LONDON, LONG_TEXT_MAX, Address, Gender, OptionalText, describe_validation_error
from vhub.triage.config import load_config

_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
_INDEX_RE = re.compile(r"\[\d+\]")
# Labels of the fields of models this form borrows (an Address has no titles of its own).
_BORROWED_LABELS = {"line1": "Address line 1", "town": "Town or city", "postcode": "Postcode"}
# What one item of a list is called, for messages such as "Child 2: date of birth is in the future".
_ITEM_NOUNS = {"children": "Child", "parents_carers_household": "Household member"}


def _email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError("is not a valid email address (for example name@agency.gov.uk)")
    return value


def _not_future(value: date | None) -> date | None:
    if value is not None and value > datetime.now(LONDON).date():
        raise ValueError("is in the future")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("has no time zone")
    return value


Email = Annotated[str, AfterValidator(_email)]
PastDate = Annotated[date | None, AfterValidator(_not_future)]


class ThresholdLevel(StrEnum):
    """The level of need the referrer judges the child to be at."""

    targeted = "level 3 targeted"
    child_protection = "level 4 child protection"


class _Form(BaseModel):
    # A reviewer's paste is held to the same bound as a record's longest text: no field of a form is longer.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, str_max_length=LONG_TEXT_MAX)


class ReferrerDetails(_Form):
    """Who refers: the same on every referral, so it lives in configuration."""

    name: str = Field(min_length=1, title="Referrer's name")
    role: str = Field(min_length=1, title="Referrer's role")
    agency: str = Field(min_length=1, title="Referrer's agency")
    secure_email: Email = Field(title="Referrer's secure email")


class Referrer(ReferrerDetails):
    referral_date: date = Field(title="Date of referral")


class Consent(_Form):
    """Set from policy when drafted; ``consent_to_confirm`` stays True until a reviewer confirms it."""

    parents_informed: bool | None = Field(None, title="Parents or carers informed")
    consent_given: bool | None = Field(None, title="Consent given")
    consent_by: OptionalText = Field(None, title="Consent given by")
    consent_not_needed_reason: OptionalText = Field(None, title="Why consent is not needed")
    consent_to_confirm: bool = Field(True, title="Consent to be confirmed by the reviewer")


class ReferralChild(_Form):
    forename: str = Field(min_length=1, title="Forename")
    surname: str = Field(min_length=1, title="Surname")
    other_names: OptionalText = Field(None, title="Other names")
    date_of_birth: PastDate = Field(None, title="Date of birth")
    expected_date_of_birth: date | None = Field(None, title="Expected date of birth (unborn child)")
    age_years: int | None = Field(None, title="Age in years (when the date of birth is not known)")
    gender: Gender | None = Field(None, title="Gender")
    ethnicity: OptionalText = Field(None, title="Ethnicity")
    religion: OptionalText = Field(None, title="Religion")
    language_needs: OptionalText = Field(None, title="Language or communication needs")
    disability: OptionalText = Field(None, title="Disability")
    school_or_nursery: OptionalText = Field(None, title="School or nursery")
    address: Address | None = Field(None, title="Address")

    @field_validator("age_years")
    @classmethod
    def _child_age(cls, value: int | None) -> int | None:
        oldest = load_config().policy.ages.child_under - 1  # a child, as triage decides (config/triage.toml)
        if value is not None and not 0 <= value <= oldest:
            raise ValueError(f"must be a whole number from 0 to {oldest}")
        return value


class HouseholdMember(_Form):
    name: str = Field(min_length=1, title="Name")
    relationship: OptionalText = Field(None, title="Relationship to the child")
    role_in_incident: OptionalText = Field(None, title="Role in the incident")
    date_of_birth: PastDate = Field(None, title="Date of birth")
    age_years: int | None = Field(None, ge=0, le=120, title="Age in years (when the date of birth is not known)")
    address: Address | None = Field(None, title="Address")
    parental_responsibility: bool | None = Field(None, title="Has parental responsibility")


class Concern(_Form):
    what: str = Field(min_length=1, title="Description of the concern")
    source: str = Field(min_length=1, title="Source of the concern")
    occurred_at: Annotated[datetime, AfterValidator(_aware)] = Field(title="When it happened")
    location: Address = Field(title="Where it happened")
    child_whereabouts_and_condition: OptionalText = Field(None, title="Child's current whereabouts and condition")
    immediate_protection_needed: bool = Field(title="Immediate protection needed")
    alleged_perpetrator: OptionalText = Field(None, title="Alleged perpetrator")


class ParentalFactors(_Form):
    mental_health: bool | None = Field(None, title="Parental mental health")
    domestic_abuse: bool | None = Field(None, title="Domestic abuse")
    substance_misuse: bool | None = Field(None, title="Substance misuse")
    violence_to_professionals: bool | None = Field(None, title="Violence to professionals")


class ReferralForm(_Form):
    """The MARF as drafted for one authority's children's services: one form for one or more children."""

    referrer: Referrer = Field(title="Referrer")
    consent: Consent = Field(title="Consent")
    children: list[ReferralChild] = Field(title="Children referred")
    parents_carers_household: list[HouseholdMember] = Field([], title="Parents, carers and household members")
    concern: Concern = Field(title="The concern")
    parental_factors: ParentalFactors = Field(ParentalFactors(), title="Parental factors")
    other_agencies: OptionalText = Field(None, title="Other agencies involved")
    threshold_level: ThresholdLevel = Field(title="Threshold level")
    narrative: str = Field(min_length=1, title="Narrative")

    @field_validator("children")
    @classmethod
    def _some_children(cls, value: list[ReferralChild]) -> list[ReferralChild]:
        if not value:
            raise ValueError("must include at least one child")
        return value

    @classmethod
    def field_labels(cls) -> dict[str, str]:
        """Field path -> label, items of lists marked ``[]``: ``{"children[].date_of_birth": "Date of birth"}``."""
        return _labels(cls, "")

    @classmethod
    def describe_errors(cls, error: ValidationError) -> dict[str, str]:
        """Field path -> a plain message naming the field, e.g. ``Child 1: date of birth is in the future``."""
        labels = cls.field_labels()
        messages: dict[str, str] = {}
        for reason in describe_validation_error(error):
            path, _, problem = reason.partition(": ")
            messages[path] = f"{_field_name(path, labels)} {problem}"
        return messages


def _labels(model: type[BaseModel], prefix: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        labels[path] = field.title or _BORROWED_LABELS.get(name, name.replace("_", " ").capitalize())
        nested, is_list = _inner_model(field.annotation)
        if nested is not None:
            labels.update(_labels(nested, f"{path}[]." if is_list else f"{path}."))
    return labels


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model inside ``X``, ``X | None`` or ``list[X]``, and whether it is a list."""
    origin = get_origin(annotation)
    if origin is list:
        inner, _ = _inner_model(get_args(annotation)[0])
        return inner, True
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            inner, is_list = _inner_model(arg)
            if inner is not None:
                return inner, is_list
        return None, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _field_name(path: str, labels: dict[str, str]) -> str:
    """``children[1].date_of_birth`` -> ``Child 2: date of birth``; top-level paths -> their label."""
    label = labels.get(_INDEX_RE.sub("[]", path), path)
    match = re.match(r"^(\w+)\[(\d+)\]\.", path)
    if match and match.group(1) in _ITEM_NOUNS:
        return f"{_ITEM_NOUNS[match.group(1)]} {int(match.group(2)) + 1}: {label[0].lower()}{label[1:]}"
    return label
