"""The referral form's fields as the bot enters them: each ReferralForm path, the locator that names its input in a
portal's selectors file, and what kind of entry it takes.

Locator names are the same for every portal (``referrer_name``, ``concern_date``; in the ``children`` and
``household`` groups ``forename``, ``address_postcode``...), so a new portal needs only a selectors file. The
incident's time is entered as a date and a time in UK local time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from vhub.drafting.referral_form import ReferralForm
from vhub.models import LONDON

Kind = Literal["text", "date", "time", "choice"]


@dataclass(frozen=True)
class FormField:
    path: str  # in ReferralForm: "concern.location.postcode", or within a list item: "address.postcode"
    locator: str
    kind: Kind = "text"


SCALAR_FIELDS = (
    FormField("referrer.name", "referrer_name"),
    FormField("referrer.role", "referrer_role"),
    FormField("referrer.agency", "referrer_agency"),
    FormField("referrer.secure_email", "referrer_email"),
    FormField("referrer.referral_date", "referral_date", "date"),
    FormField("consent.parents_informed", "parents_informed", "choice"),
    FormField("consent.consent_given", "consent_given", "choice"),
    FormField("consent.consent_by", "consent_by"),
    FormField("consent.consent_not_needed_reason", "consent_not_needed_reason"),
    FormField("consent.consent_to_confirm", "consent_to_confirm", "choice"),
    FormField("concern.what", "concern_what"),
    FormField("concern.source", "concern_source"),
    FormField("concern.occurred_at", "concern_date", "date"),
    FormField("concern.occurred_at", "concern_time", "time"),
    FormField("concern.location.line1", "concern_line1"),
    FormField("concern.location.town", "concern_town"),
    FormField("concern.location.postcode", "concern_postcode"),
    FormField("concern.child_whereabouts_and_condition", "child_whereabouts"),
    FormField("concern.immediate_protection_needed", "immediate_protection", "choice"),
    FormField("concern.alleged_perpetrator", "alleged_perpetrator"),
    FormField("parental_factors.mental_health", "mental_health", "choice"),
    FormField("parental_factors.domestic_abuse", "domestic_abuse", "choice"),
    FormField("parental_factors.substance_misuse", "substance_misuse", "choice"),
    FormField("parental_factors.violence_to_professionals", "violence_to_professionals", "choice"),
    FormField("other_agencies", "other_agencies"),
    FormField("threshold_level", "threshold_level", "choice"),
    FormField("narrative", "narrative"),
)
_ADDRESS = (
    FormField("address.line1", "address_line1"),
    FormField("address.town", "address_town"),
    FormField("address.postcode", "address_postcode"),
)
CHILD_FIELDS = (
    FormField("forename", "forename"),
    FormField("surname", "surname"),
    FormField("other_names", "other_names"),
    FormField("date_of_birth", "date_of_birth", "date"),
    FormField("expected_date_of_birth", "expected_date_of_birth", "date"),
    FormField("age_years", "age_years"),
    FormField("gender", "gender", "choice"),
    FormField("ethnicity", "ethnicity"),
    FormField("religion", "religion"),
    FormField("language_needs", "language_needs"),
    FormField("disability", "disability"),
    FormField("school_or_nursery", "school_or_nursery"),
    *_ADDRESS,
)
MEMBER_FIELDS = (
    FormField("name", "name"),
    FormField("relationship", "relationship"),
    FormField("role_in_incident", "role_in_incident"),
    FormField("date_of_birth", "date_of_birth", "date"),
    FormField("age_years", "age_years"),
    *_ADDRESS,
    FormField("parental_responsibility", "parental_responsibility", "choice"),
)
GROUPS = {"children": CHILD_FIELDS, "household": MEMBER_FIELDS}
LISTS = {"children": "children", "household": "parents_carers_household"}
"""Selectors group -> the fields of one of its blocks, and the ReferralForm list the blocks come from."""
YOUR_REFERENCE = "your_reference"
"""The locator of the referrer's reference field, where the submission key is written."""

ALL_PATHS = frozenset(
    [item.path for item in SCALAR_FIELDS]
    + [f"{LISTS[group]}[].{item.path}" for group, fields in GROUPS.items() for item in fields]
)
"""Every path ``not_asked`` in config/portals.toml may name."""


@dataclass(frozen=True)
class Entry:
    locator: str
    kind: Kind
    value: Any  # text: str; date: date | None; time: "HH:MM" | ""; choice: "yes", "no", "" (not known), or the value


_GROUP_NOUNS = {"children": "child", "household": "household member"}


def field_label(where: str) -> str:
    """A field as a reviewer reads it: ``consent_given`` -> "consent given", ``children[1].gender`` -> "child 2's
    gender" (``where`` is a locator, or ``group[index].locator`` in a block)."""
    match = re.fullmatch(r"(\w+)\[(\d+)\]\.(\w+)", where)
    if match is None:
        return where.replace("_", " ")
    group, index, locator = match.groups()
    return f"{_GROUP_NOUNS.get(group, group)} {int(index) + 1}'s {locator.replace('_', ' ')}"


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _entry(item: FormField, value: Any) -> Entry:
    if item.path == "concern.occurred_at":
        local = datetime.fromisoformat(value).astimezone(LONDON)
        return Entry(item.locator, item.kind, local.date() if item.kind == "date" else f"{local:%H:%M}")
    if item.kind == "date":
        return Entry(item.locator, item.kind, date.fromisoformat(value) if value else None)
    if item.kind == "choice":
        return Entry(item.locator, item.kind, "yes" if value is True else "no" if value is False else value or "")
    return Entry(item.locator, item.kind, "" if value is None else str(value))


def entry_of(data: dict[str, Any], fields: tuple[FormField, ...], locator: str) -> Entry:
    """What to enter in the field with this locator."""
    item = next(item for item in fields if item.locator == locator)
    return _entry(item, _at(data, item.path))


def entries(data: dict[str, Any], fields: tuple[FormField, ...], skip: frozenset[str], prefix: str = "") -> list[Entry]:
    """What to enter for ``fields`` of ``data`` (a ReferralForm as JSON, or one list item), leaving out the paths
    in ``skip`` (``prefix`` + path: the fields the portal does not ask)."""
    return [_entry(item, _at(data, item.path)) for item in fields if prefix + item.path not in skip]


def personal_values(form: ReferralForm) -> list[str]:
    """Names, dates of birth and addresses in the form, for the log redactor to mask."""
    found: list[Any] = []
    for child in form.children:
        found += [child.forename, child.surname, f"{child.forename} {child.surname}", child.other_names]
        found += [child.date_of_birth, child.expected_date_of_birth, child.school_or_nursery]
        found += [child.address.line1, child.address.postcode] if child.address else []
    for member in form.parents_carers_household:
        found += [member.name, member.date_of_birth]
        found += [member.address.line1, member.address.postcode] if member.address else []
    found += [form.concern.location.line1, form.concern.location.postcode, form.concern.alleged_perpetrator]
    for value in list(found):
        if isinstance(value, date):
            found += [value.isoformat(), f"{value:%d/%m/%Y}"]
    return [str(value) for value in found if value is not None and not isinstance(value, date)]
