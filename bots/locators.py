"""Locators from selectors/<system>.yaml, and reading a whole page in one browser round trip.

Locators are plain CSS or XPath (never Playwright-only syntax), so the same file can drive a
browserless reader later. A page's fields are read by one ``page.evaluate`` call that also counts
matches: a single-value locator must match exactly one element (or none, when marked optional),
otherwise the page has drifted and SelectorDrift names the locator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import Page

from vhub.errors import ConfigurationError, SelectorDrift
from vhub.settings import PROJECT_ROOT

SELECTORS_DIR = PROJECT_ROOT / "selectors"


@dataclass(frozen=True)
class Locator:
    name: str
    css: str | None = None
    xpath: str | None = None
    attr: str | None = None
    optional: bool = False
    raw: bool = False

    @property
    def playwright(self) -> str:
        """The locator in Playwright's syntax, for actions (fill, click)."""
        return f"css={self.css}" if self.css else f"xpath={self.xpath}"

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "css": self.css,
            "xpath": self.xpath,
            "attr": self.attr,
            "optional": self.optional,
            "raw": self.raw,
        }


@dataclass(frozen=True)
class Group:
    """Repeating rows (table rows, blocks) and the fields read relative to each row."""

    name: str
    rows: Locator
    fields: dict[str, Locator]

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows.spec(), "fields": [f.spec() for f in self.fields.values()]}


@dataclass(frozen=True)
class PageLocators:
    system: str
    name: str
    path: str
    locators: dict[str, Locator] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    sign_in_path: str = ""  # the path of the system's sign_in page: a page that lands there was sent to sign in

    def __getitem__(self, name: str) -> Locator:
        try:
            return self.locators[name]
        except KeyError:
            raise ConfigurationError(f"selectors/{self.system}.yaml: page {self.name} has no locator {name}") from None

    def group(self, name: str) -> Group:
        try:
            return self.groups[name]
        except KeyError:
            raise ConfigurationError(f"selectors/{self.system}.yaml: page {self.name} has no group {name}") from None


def _locator(system: str, where: str, data: Any) -> Locator:
    """``where`` is the locator's path in the file (page.group.name), for messages; its name is the last part."""
    if not isinstance(data, dict) or bool(data.get("css")) == bool(data.get("xpath")):
        raise ConfigurationError(f"selectors/{system}.yaml: '{where}' needs exactly one of css or xpath.")
    unknown = set(data) - {"css", "xpath", "attr", "optional", "raw"}
    if unknown:
        raise ConfigurationError(f"selectors/{system}.yaml: '{where}' has unknown keys {sorted(unknown)}.")
    name = where.rsplit(".", 1)[-1]
    return Locator(
        name=name,
        css=data.get("css"),
        xpath=data.get("xpath"),
        attr=data.get("attr"),
        optional=bool(data.get("optional", False)),
        raw=bool(data.get("raw", False)),
    )


@cache
def load(system: str, directory: Path = SELECTORS_DIR) -> dict[str, PageLocators]:
    """Every page of a system's selectors file, keyed by page name."""
    path = directory / f"{system}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{path} cannot be read: {error}") from None
    pages = {}
    sign_in_path = str(((data.get("pages") or {}).get("sign_in") or {}).get("path") or "")
    for page_name, page in (data.get("pages") or {}).items():
        locators = {
            name: _locator(system, f"{page_name}.{name}", spec) for name, spec in (page.get("locators") or {}).items()
        }
        groups = {}
        for name, spec in (page.get("groups") or {}).items():
            where = f"{page_name}.{name}"
            fields = {f: _locator(system, f"{where}.{f}", s) for f, s in (spec.get("fields") or {}).items()}
            groups[name] = Group(name=name, rows=_locator(system, f"{where}.rows", spec.get("rows")), fields=fields)
        pages[page_name] = PageLocators(system, page_name, page.get("path", ""), locators, groups, sign_in_path)
    return pages


_EXTRACT_JS = """
(spec) => {
  const find = (loc, root) => {
    if (loc.css) return Array.from(root.querySelectorAll(loc.css));
    const found = document.evaluate(loc.xpath, root, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    const out = [];
    for (let i = 0; i < found.snapshotLength; i++) out.push(found.snapshotItem(i));
    return out;
  };
  const read = (el, loc) => {
    if (loc.attr) return el.getAttribute(loc.attr);
    const text = el.textContent ?? "";
    return loc.raw ? text : text.replace(/\\s+/g, " ").trim();
  };
  const problems = [];
  const one = (loc, root, where) => {
    const found = find(loc, root);
    if (found.length === 1) return read(found[0], loc);
    if (found.length === 0 && loc.optional) return null;
    problems.push({locator: where + loc.name, matched: found.length});
    return null;
  };
  const values = {};
  for (const loc of spec.locators) values[loc.name] = one(loc, document, "");
  const groups = {};
  for (const group of spec.groups) {
    groups[group.name] = find(group.rows, document).map((row, index) => {
      const item = {};
      for (const loc of group.fields) item[loc.name] = one(loc, row, group.name + "[" + index + "].");
      return item;
    });
  }
  return {values, groups, problems};
}
"""


def problems(page: Page, locators: PageLocators) -> list[tuple[str, int]]:
    """Every locator of the page that does not match as it should: (locator, elements matched)."""
    spec = {
        "locators": [loc.spec() for loc in locators.locators.values()],
        "groups": [group.spec() for group in locators.groups.values()],
    }
    result: dict[str, Any] = page.evaluate(_EXTRACT_JS, spec)
    return [(problem["locator"], int(problem["matched"])) for problem in result["problems"]]


def extract(page: Page, locators: PageLocators, *, only: list[str] | None = None) -> dict[str, Any]:
    """Read the page's locators and groups in one round trip; SelectorDrift if any matched wrongly.

    Returns ``{"values": {name: text}, "groups": {name: [{field: text}]}}``."""
    names = only if only is not None else list(locators.locators)
    spec = {
        "locators": [locators[name].spec() for name in names],
        "groups": [group.spec() for group in locators.groups.values()] if only is None else [],
    }
    result: dict[str, Any] = page.evaluate(_EXTRACT_JS, spec)
    if result["problems"]:
        first = result["problems"][0]
        raise SelectorDrift(locators.system, locators.name, first["locator"], first["matched"])
    return {"values": result["values"], "groups": result["groups"]}


def count(page: Page, locator: Locator) -> int:
    """How many elements a locator matches now."""
    return int(page.locator(locator.playwright).count())


def require(page: Page, locators: PageLocators, name: str) -> str:
    """The Playwright selector of an element about to be acted on, once it is known to match exactly one
    element: acting on a missing one would wait out the whole time-out before failing."""
    locator = locators[name]
    matched = count(page, locator)
    if matched != 1:
        raise SelectorDrift(locators.system, locators.name, name, matched)
    return locator.playwright
