"""How the referral bot works one authority's portal: its ``[referral.<authority>]`` entry in config/portals.toml
(the step kinds of its flow, how dates are entered), checked against the portal's selectors file before use."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bots.locators import PageLocators
from bots.referral_portal.fields import ALL_PATHS, GROUPS, LISTS, SCALAR_FIELDS, YOUR_REFERENCE
from vhub.errors import ConfigurationError
from vhub.models import describe_validation_error
from vhub.mou import OUTCOMES
from vhub.portals import PORTALS_FILE, load_routes

FlowStep = Literal["search_existing", "framed_form", "wizard", "long_form"]
FORM_STEPS = ("wizard", "long_form")
RUNBOOK = "runbooks/adding-an-authority.md"
NOT_KNOWN = ""
"""The bot's choice for a yes/no question whose answer is not known."""
_ANSWERS = frozenset({"yes", "no", "y", "n", "true", "false", "1", "0", "on", "off"})


class PortalRoute(BaseModel):
    """One ``[referral.<authority>]`` entry (data only; unknown keys are refused, so a typo cannot pass)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    authority: str
    portal: str  # settings (Settings.external), selectors/<portal>.yaml and the evidence folder
    flow: tuple[FlowStep, ...]
    date_entry: Literal["text", "date_picker"] = "text"
    date_format: str = "%d/%m/%Y"  # strftime pattern of a typed date
    time_format: str = "%H:%M"
    wizard_steps: tuple[str, ...] = ()  # selectors pages of the wizard, in order; the last one submits
    not_asked: tuple[str, ...] = ()  # ReferralForm paths the portal has no field for: "consent.consent_to_confirm"
    choices: dict[str, str] = {}  # the bot's choice -> the portal's option (value or label): "unknown" = "U"
    children_per_referral: int | None = Field(None, ge=1)  # most children one referral holds; None: any number
    decisions: dict[str, str] = {}  # the portal's words for a decision -> a key of vhub.mou.OUTCOMES; none: not read
    undecided: tuple[str, ...] = ()  # its words while no decision is recorded
    decision_time_format: str = "%d/%m/%Y %H:%M"  # how it shows a decision's time (UK local)

    @model_validator(mode="after")
    def _flow_ends_with_one_form(self) -> PortalRoute:
        forms = [step for step in self.flow if step in FORM_STEPS]
        if len(forms) != 1 or self.flow[-1] not in FORM_STEPS:
            raise ValueError("must end with one form step, wizard or long_form, and have no other")
        if len(set(self.flow)) != len(self.flow):
            raise ValueError("names a step kind twice")
        if ("wizard" in self.flow) != bool(self.wizard_steps):
            raise ValueError("wizard_steps lists the pages of a wizard flow, and only of one")
        unknown = sorted(set(self.not_asked) - ALL_PATHS)
        if unknown:
            raise ValueError(f"not_asked names unknown fields: {', '.join(unknown)}")
        wrong = sorted({outcome for outcome in self.decisions.values() if outcome not in OUTCOMES})
        if wrong:
            raise ValueError(f"decisions maps to {', '.join(wrong)}; use {', '.join(OUTCOMES)}")
        if self.decisions and not self.undecided:
            raise ValueError("decisions is given without undecided (the portal's words while nothing is decided)")
        if self.choices.get(NOT_KNOWN, NOT_KNOWN).strip().casefold() in _ANSWERS:
            raise ValueError(
                'choices maps "" (not known) to an answer: a "not known" is never sent as yes or no; map it only to '
                "the portal's own not-known option (a draft the portal cannot take goes back to review)"
            )
        return self

    @property
    def takes_one_child(self) -> bool:
        """The portal's form holds one child (it has no "add child"): one referral per child."""
        return self.children_per_referral == 1

    @property
    def form_pages(self) -> tuple[str, ...]:
        return self.wizard_steps if "wizard" in self.flow else ("form",)


def load_route(authority: str | None, path: Path = PORTALS_FILE) -> PortalRoute:
    """The entry of ``authority``; ConfigurationError naming the file and the fix when it is missing or wrong."""
    if not authority:
        raise ConfigurationError("The referral names no local authority: the draft's recipient must have one.")
    entry = load_routes(path).get("referral", {}).get(authority)
    if not isinstance(entry, dict):
        raise ConfigurationError(
            f"{path} has no [referral.{authority}] entry: add the authority's portal ({RUNBOOK}) before its "
            "referrals can be sent."
        )
    try:
        return PortalRoute.model_validate({"authority": authority, **entry})
    except ValidationError as error:
        reasons = "; ".join(describe_validation_error(error))
        raise ConfigurationError(f"{path} [referral.{authority}] is not valid: {reasons}. See {RUNBOOK}.") from None


def _needed(route: PortalRoute, pages: dict[str, PageLocators]) -> dict[str, list[str]]:
    """Selectors page -> the locators the bot acts on there."""
    needed = {
        "sign_in": ["username", "password", "submit"],
        "referral_search": ["search_text", "search"],
        "outcome": ["reference"],
    }
    if route.decisions:
        needed["referral_decisions"] = ["search_text", "search"]
    if "search_existing" in route.flow:
        needed["search_existing"] = ["surname", "date_of_birth", "search", "create_new"]
    if "framed_form" in route.flow:
        needed["frame"] = ["iframe"]
    if route.date_entry == "date_picker":
        needed["date_picker"] = ["day", "month", "year"]
    for name in route.form_pages:
        groups = pages[name].groups if name in pages else {}
        needed[name] = ["submit" if name == route.form_pages[-1] else "next"]
        needed[name] += ["add_child"] if "children" in groups and not route.takes_one_child else []
        needed[name] += ["add_member"] if "household" in groups else []
    return needed


def route_problems(route: PortalRoute, pages: dict[str, PageLocators]) -> list[str]:
    """What the portal's selectors file lacks for this route (empty when the bot can work the portal)."""
    needed = _needed(route, pages)
    problems = [f"page '{name}' is missing" for name in needed if name not in pages]
    problems += [
        f"page '{name}' has no locator '{locator}'"
        for name, locators in needed.items()
        if name in pages
        for locator in locators
        if locator not in pages[name].locators
    ]
    for name, group, fields in (
        ("referral_search", "results", {"reference", "your_reference"}),
        ("outcome", "errors", {"message"}),
        *([("referral_decisions", "results", {"reference", "decision", "decided_at"})] if route.decisions else []),
    ):
        found = pages[name].groups.get(group) if name in pages else None
        if name in pages and (found is None or not fields <= set(found.fields)):
            problems.append(f"page '{name}' needs a group '{group}' with fields {', '.join(sorted(fields))}")
    return problems + _field_problems(route, pages)


def _field_problems(route: PortalRoute, pages: dict[str, PageLocators]) -> list[str]:
    """Every field the portal asks (all but ``not_asked``) must be on exactly one form page."""
    found: dict[str, list[str]] = {}
    for name in route.form_pages:
        page = pages.get(name)
        if page is None:
            continue
        for item in SCALAR_FIELDS:
            if item.locator in page.locators:
                found.setdefault(item.path + "|" + item.locator, []).append(name)
        if YOUR_REFERENCE in page.locators:
            found.setdefault(YOUR_REFERENCE, []).append(name)
        for group, fields in GROUPS.items():
            if group in page.groups:
                for item in fields:
                    if item.locator in page.groups[group].fields:
                        found.setdefault(f"{LISTS[group]}[].{item.path}|{item.locator}", []).append(name)
    wanted = [f"{item.path}|{item.locator}" for item in SCALAR_FIELDS]
    wanted += [f"{LISTS[group]}[].{item.path}|{item.locator}" for group, fields in GROUPS.items() for item in fields]
    problems = []
    for key in wanted:
        path, locator = key.split("|")
        where = found.get(key, [])
        if path in route.not_asked:
            continue
        if len(where) != 1:
            place = "no form page" if not where else f"{len(where)} pages ({', '.join(where)})"
            problems.append(f"field {path} (locator '{locator}') is on {place}; add it, or list it in not_asked")
    if len(found.get(YOUR_REFERENCE, [])) != 1:
        problems.append(f"locator '{YOUR_REFERENCE}' (where the submission key is written) must be on one form page")
    return problems


def check_route(route: PortalRoute, pages: dict[str, PageLocators]) -> None:
    """ConfigurationError listing every problem, naming the files to fix."""
    problems = route_problems(route, pages)
    if problems:
        raise ConfigurationError(
            f"selectors/{route.portal}.yaml does not fit [referral.{route.authority}] in config/portals.toml: "
            + "; ".join(problems)
            + f". See {RUNBOOK}."
        )
