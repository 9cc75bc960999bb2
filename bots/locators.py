"""Locators from selectors/<system>.yaml, and reading a whole page: in one browser round trip, or from its HTML.

Locators are plain CSS or XPath (never Playwright-only syntax), so the same file drives both readers.
``extract`` reads a page in the browser with one ``page.evaluate`` call; ``extract_html`` reads the
page's HTML text with lxml, matching and counting as the browser does. Either way a single-value
locator must match exactly one element (or none, when marked optional), otherwise the page has
drifted and SelectorDrift names the locator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from cssselect import HTMLTranslator, SelectorError
from lxml import etree
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
    script: bool = False  # only the page's script fills it in: the page is read in the browser

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

    @property
    def script(self) -> bool:
        return self.rows.script or any(loc.script for loc in self.fields.values())


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

    @property
    def needs_script(self) -> bool:
        """Whether a locator of the page is marked ``script: true``: its HTML alone does not hold what is read."""
        return any(loc.script for loc in self.locators.values()) or any(g.script for g in self.groups.values())


def _locator(system: str, where: str, data: Any) -> Locator:
    """``where`` is the locator's path in the file (page.group.name), for messages; its name is the last part."""
    if not isinstance(data, dict) or bool(data.get("css")) == bool(data.get("xpath")):
        raise ConfigurationError(f"selectors/{system}.yaml: '{where}' needs exactly one of css or xpath.")
    unknown = set(data) - {"css", "xpath", "attr", "optional", "raw", "script"}
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
        script=bool(data.get("script", False)),
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


def _spec(locators: PageLocators, only: list[str] | None) -> dict[str, Any]:
    names = only if only is not None else list(locators.locators)
    return {
        "locators": [locators[name].spec() for name in names],
        "groups": [group.spec() for group in locators.groups.values()] if only is None else [],
    }


def _checked(result: dict[str, Any], locators: PageLocators) -> dict[str, Any]:
    if result["problems"]:
        first = result["problems"][0]
        raise SelectorDrift(locators.system, locators.name, first["locator"], first["matched"])
    return {"values": result["values"], "groups": result["groups"]}


def problems(page: Page, locators: PageLocators) -> list[tuple[str, int]]:
    """Every locator of the page that does not match as it should: (locator, elements matched)."""
    result: dict[str, Any] = page.evaluate(_EXTRACT_JS, _spec(locators, None))
    return [(problem["locator"], int(problem["matched"])) for problem in result["problems"]]


def extract(page: Page, locators: PageLocators, *, only: list[str] | None = None) -> dict[str, Any]:
    """Read the page's locators and groups in one round trip; SelectorDrift if any matched wrongly.

    Returns ``{"values": {name: text}, "groups": {name: [{field: text}]}}``."""
    return _checked(page.evaluate(_EXTRACT_JS, _spec(locators, only)), locators)


class NeedsBrowser(Exception):
    """The page's HTML holds something lxml does not read as Chromium does; read this page in the browser.

    Carries a short reason for the log (never page content)."""


def extract_html(
    html: str | bytes, locators: PageLocators, *, only: list[str] | None = None, encoding: str | None = None
) -> dict[str, Any]:
    """``extract`` over a page's HTML text instead of a live page: the same result for the same page, the
    same SelectorDrift. NeedsBrowser when the page cannot be read this way (``_HtmlPage`` says when)."""
    if locators.needs_script:
        raise NeedsBrowser("a locator of the page is marked script")
    return _checked(_HtmlPage(html, encoding).read(_spec(locators, only)), locators)


def html_problems(html: str | bytes, locators: PageLocators, *, encoding: str | None = None) -> list[tuple[str, int]]:
    """``problems`` over a page's HTML text."""
    result = _HtmlPage(html, encoding).read(_spec(locators, None))
    return [(problem["locator"], int(problem["matched"])) for problem in result["problems"]]


_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
"""What JavaScript's \\s and trim() take for white space (Python's \\s differs: it takes \\x1c-\\x1f, not U+FEFF)."""
_SPACES = re.compile(f"[{_SPACE}]+")
_STRIP = _SPACE.replace("\u2000-\u200a", "".join(chr(c) for c in range(0x2000, 0x200B)))
_TRANSLATOR = HTMLTranslator()
_TEXT = etree.XPath("string()")


@cache
def _css(css: str) -> etree.XPath:
    try:
        return etree.XPath(_TRANSLATOR.css_to_xpath(css))
    except (SelectorError, etree.XPathSyntaxError):
        raise NeedsBrowser("a CSS locator lxml cannot evaluate") from None


@cache
def _xpath(xpath: str) -> etree.XPath:
    try:
        return etree.XPath(xpath)
    except etree.XPathSyntaxError:
        raise NeedsBrowser("an XPath locator lxml cannot evaluate") from None


def _in_tbody(table: Any) -> None:
    """Put a table's own rows in a tbody, as an HTML5 parser does (lxml keeps them where they were written)."""
    body = None
    for child in list(table):
        if child.tag == "tr" or (body is not None and not isinstance(child.tag, str)):
            if body is None:
                body = etree.Element("tbody")
                child.addprevious(body)
            body.append(child)
        else:
            body = None


class _HtmlPage:
    """A page's HTML parsed as Chromium parses it, and its locators matched as ``_EXTRACT_JS`` matches them."""

    def __init__(self, html: str | bytes, encoding: str | None) -> None:
        if "\x00" in html if isinstance(html, str) else b"\x00" in html:
            # Chromium drops a NUL in text and makes it U+FFFD elsewhere; lxml makes every one U+FFFD.
            raise NeedsBrowser("the page holds NUL characters")
        parser = etree.HTMLParser(encoding=encoding, huge_tree=True, no_network=True)
        root = etree.fromstring(html, parser) if html else None
        if root is None:
            raise NeedsBrowser("the page is empty")
        if next(root.iter("template", "noscript", "frameset"), None) is not None:
            # Chromium keeps a template's content and (with script on) a noscript's out of the tree.
            raise NeedsBrowser("the page has template, noscript or frameset elements")
        for table in root.xpath("//table[tr]"):
            _in_tbody(table)
        self.root = root
        self._under: dict[str, dict[Any, list[Any]]] = {}

    def _css_under(self, css: str, row: Any) -> list[Any]:
        """querySelectorAll on an element: the document's matches of ``css`` that are inside ``row``."""
        if css not in self._under:
            index: dict[Any, list[Any]] = {}
            for element in _css(css)(self.root):
                for ancestor in element.iterancestors():
                    index.setdefault(ancestor, []).append(element)
            self._under[css] = index
        return self._under[css].get(row, [])

    def find(self, loc: dict[str, Any], row: Any) -> list[Any]:
        if loc["css"]:
            return list(_css(loc["css"])(self.root)) if row is None else self._css_under(loc["css"], row)
        found = _xpath(loc["xpath"])(self.root if row is None else row)
        if not isinstance(found, list):
            raise NeedsBrowser("an XPath locator gives a value, not elements")
        return found

    @staticmethod
    def text(node: Any, loc: dict[str, Any]) -> str | None:
        if isinstance(node, str):  # a text or attribute node
            if loc["attr"]:
                raise NeedsBrowser("an XPath locator with attr gives text, not an element")
            text = str(node)
        elif not isinstance(node.tag, str):
            raise NeedsBrowser("a locator matches a comment or processing instruction")
        elif loc["attr"]:
            value = node.get(loc["attr"].lower())
            return None if value is None else str(value)
        else:
            text = str(_TEXT(node))
        return text if loc["raw"] else _SPACES.sub(" ", text).strip(_STRIP)

    def read(self, spec: dict[str, Any]) -> dict[str, Any]:
        """What ``_EXTRACT_JS`` returns for ``spec`` on this page."""
        problems: list[dict[str, Any]] = []

        def one(loc: dict[str, Any], row: Any, where: str) -> str | None:
            found = self.find(loc, row)
            if len(found) == 1:
                return self.text(found[0], loc)
            if not found and loc["optional"]:
                return None
            problems.append({"locator": where + loc["name"], "matched": len(found)})
            return None

        values = {loc["name"]: one(loc, None, "") for loc in spec["locators"]}
        groups: dict[str, list[dict[str, Any]]] = {}
        for group in spec["groups"]:
            rows = self.find(group["rows"], None)
            groups[group["name"]] = [
                {loc["name"]: one(loc, row, f"{group['name']}[{index}].") for loc in group["fields"]}
                for index, row in enumerate(rows)
            ]
        return {"values": values, "groups": groups, "problems": problems}


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
