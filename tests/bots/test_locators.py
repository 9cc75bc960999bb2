"""Locator files and one-round-trip extraction, in a real Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from bots.locators import extract, load
from vhub.errors import ConfigurationError, SelectorDrift

pytestmark = pytest.mark.browser

SELECTORS = """
system: demo
pages:
  sign_in:
    path: /account/signin
    locators:
      username: {css: "#username"}
  person:
    path: /person
    locators:
      name: {css: "#name"}
      town: {xpath: "//th[normalize-space()='Town']/following-sibling::td[1]"}
      note: {css: "#note", raw: true}
      link: {css: "a.more", attr: href}
      missing_ok: {css: "#nothing", optional: true}
    groups:
      rows:
        rows: {css: "tr.item"}
        fields:
          code: {css: "td.code"}
          size: {xpath: "./td[2]"}
"""

HTML = """
<div id="name">  Ada   Example </div>
<table><tr><th>Town</th><td>Ludlow</td></tr></table>
<div id="note">line one
  line two</div>
<a class="more" href="/next?page=2">More</a>
<table>
<tr class="item"><td class="code">A</td><td>1</td></tr>
<tr class="item"><td class="code">B</td><td>2</td></tr>
</table>
"""


@pytest.fixture
def selectors(tmp_path: Path) -> dict:
    (tmp_path / "demo.yaml").write_text(SELECTORS)
    load.cache_clear()
    yield load("demo", tmp_path)
    load.cache_clear()


def test_values_groups_attributes_and_raw_text(page: Page, selectors: dict) -> None:
    """CSS and XPath locators, attributes, free text and repeating rows are read in one call."""
    page.set_content(HTML)
    data = extract(page, selectors["person"])
    assert {
        "name": "Ada Example",
        "town": "Ludlow",
        "note": "line one\n  line two",
        "link": "/next?page=2",
        "missing_ok": None,
    } == data["values"]
    assert [{"code": "A", "size": "1"}, {"code": "B", "size": "2"}] == data["groups"]["rows"]


def test_every_page_knows_the_sign_in_path_of_its_file(selectors: dict) -> None:
    """The sign_in page's path is where every page of the system is sent when its session ends."""
    assert {"sign_in": "/account/signin", "person": "/account/signin"} == {
        name: page.sign_in_path for name, page in selectors.items()
    }


def test_a_missing_element_is_drift(page: Page, selectors: dict) -> None:
    """A required locator matching nothing raises SelectorDrift naming the locator and the page."""
    page.set_content(HTML.replace('id="name"', 'id="fullName"'))
    with pytest.raises(SelectorDrift) as caught:
        extract(page, selectors["person"])
    assert ("demo", "person", "name", 0) == (caught.value.system, caught.value.page, caught.value.locator, 0)
    assert "vhub selectors check --portal demo" in caught.value.message


def test_two_matches_are_drift(page: Page, selectors: dict) -> None:
    """A locator matching two elements is as wrong as one matching none: the page changed."""
    page.set_content(HTML + '<a class="more" href="/elsewhere">Also</a>')
    with pytest.raises(SelectorDrift) as caught:
        extract(page, selectors["person"])
    assert ("link", 2) == (caught.value.locator, caught.value.matched)


def test_drift_inside_a_row_names_the_row(page: Page, selectors: dict) -> None:
    """A field missing from one row is reported with the group and row number."""
    page.set_content(HTML.replace('<td class="code">B</td>', "<td>B</td>"))
    with pytest.raises(SelectorDrift, match=r"rows\[1\]\.code"):
        extract(page, selectors["person"])


def test_a_locator_needs_exactly_one_of_css_or_xpath(tmp_path: Path) -> None:
    """A malformed selectors file is refused with the locator's path."""
    (tmp_path / "bad.yaml").write_text("pages:\n  p:\n    locators:\n      x: {css: a, xpath: //a}\n")
    load.cache_clear()
    with pytest.raises(ConfigurationError, match="'p.x' needs exactly one of css or xpath"):
        load("bad", tmp_path)
    load.cache_clear()


def test_the_records_system_file_loads() -> None:
    """The shipped selectors file is well formed and has the pages the records bot uses."""
    assert {"sign_in", "search", "incident"} <= set(load("records_system"))
