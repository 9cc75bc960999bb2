"""Locator files, and reading a page with them: in one round trip in a real Chromium, and from its HTML with lxml."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from playwright.sync_api import Page, Route

from bots.locators import Group, Locator, NeedsBrowser, PageLocators, extract, extract_html, load
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


Reader = Callable[[str, PageLocators], dict[str, Any]]


@pytest.fixture
def selectors(tmp_path: Path) -> dict:
    (tmp_path / "demo.yaml").write_text(SELECTORS)
    load.cache_clear()
    yield load("demo", tmp_path)
    load.cache_clear()


def _served(page: Page) -> Reader:
    """Read HTML in Chromium as a page served with it (UTF-8), the way the bots' pages arrive."""
    body: dict[str, bytes] = {}

    def serve(route: Route) -> None:
        route.fulfill(body=body["html"], headers={"content-type": "text/html; charset=utf-8"})

    page.route("http://pages.test/**", serve)

    def read(html: str, locators: PageLocators) -> dict[str, Any]:
        body["html"] = html.encode("utf-8")
        page.goto("http://pages.test/page")
        return extract(page, locators)

    return read


@pytest.fixture(params=["browser", "html"])
def read(request: pytest.FixtureRequest) -> Reader:
    """Each reader of a page: one round trip in Chromium, and lxml over the same HTML (bytes, as fetched)."""
    if request.param == "html":
        return lambda html, locators: extract_html(html.encode("utf-8"), locators, encoding="utf-8")
    return _served(request.getfixturevalue("page"))


def test_values_groups_attributes_and_raw_text(read: Reader, selectors: dict) -> None:
    """CSS and XPath locators, attributes, free text and repeating rows are read in one call."""
    data = read(HTML, selectors["person"])
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


def test_a_missing_element_is_drift(read: Reader, selectors: dict) -> None:
    """A required locator matching nothing raises SelectorDrift naming the locator and the page."""
    with pytest.raises(SelectorDrift) as caught:
        read(HTML.replace('id="name"', 'id="fullName"'), selectors["person"])
    assert ("demo", "person", "name", 0) == (caught.value.system, caught.value.page, caught.value.locator, 0)
    assert "vhub selectors check --portal demo" in caught.value.message


def test_two_matches_are_drift(read: Reader, selectors: dict) -> None:
    """A locator matching two elements is as wrong as one matching none: the page changed."""
    with pytest.raises(SelectorDrift) as caught:
        read(HTML + '<a class="more" href="/elsewhere">Also</a>', selectors["person"])
    assert ("link", 2) == (caught.value.locator, caught.value.matched)


def test_drift_inside_a_row_names_the_row(read: Reader, selectors: dict) -> None:
    """A field missing from one row is reported with the group and row number."""
    with pytest.raises(SelectorDrift, match=r"rows\[1\]\.code"):
        read(HTML.replace('<td class="code">B</td>', "<td>B</td>"), selectors["person"])


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


MATCHING = PageLocators(
    "demo",
    "matching",
    "/",
    {
        "cell_by_child": Locator("cell_by_child", css="table#t > tbody > tr > td.one"),
        "row_by_path": Locator("row_by_path", xpath="//table[@id='t']/tbody/tr[2]"),
        "no_bare_rows": Locator("no_bare_rows", css="table#t > tr", optional=True),
        "spaces": Locator("spaces", css="#spaces"),
    },
    {
        "rows": Group(
            "rows",
            Locator("rows", css="table#t tr"),
            {
                # Matched against the whole page, as querySelectorAll on the row is: the table is outside the row.
                "outer": Locator("outer", css="table#t td", optional=True),
                "first": Locator("first", xpath="./td[1]"),
            },
        )
    },
)
MATCHING_HTML = (
    '<table id="t"><tr><td class="one">1</td></tr>\n<tr><td>2</td></tr></table>'
    "<p id='spaces'>\u3000\u00a0 a \ufeff\u2028 b\x1c\x1d c \u200b </p>"
)


def test_rows_tables_and_white_space_are_matched_as_in_chromium(read: Reader) -> None:
    """Rows written without a tbody are in one; a row's CSS field sees ancestors outside the row; white space is
    JavaScript's (U+FEFF and U+3000 are space, U+001C and U+200B are not)."""
    assert {
        "values": {
            "cell_by_child": "1",
            "row_by_path": "2",
            "no_bare_rows": None,
            "spaces": "a b\x1c\x1d c \u200b",
        },
        "groups": {"rows": [{"outer": "1", "first": "1"}, {"outer": "2", "first": "2"}]},
    } == read(MATCHING_HTML, MATCHING)


TEXT = PageLocators(
    "demo", "text", "/", {"text": Locator("text", css="td#text"), "raw": Locator("raw", css="div#raw", raw=True)}
)
ODD_TEXT = [
    "".join(chr(code) for code in range(1, 0xA0)),
    "a\r\nb\rc\n\rd",
    "\ufffe \uffff \ufdd0 \U0001fffe \U0001f600 e\u0301 \u202eabc\u202c \u2028x\u2029",
    '<script>alert("x")</script> &amp; &nbsp; <b>bold</b>',
    "x" * 2_000_000,
]


@pytest.mark.parametrize("text", ODD_TEXT, ids=["control", "line-ends", "unicode", "markup", "two-megabytes"])
def test_html_reads_odd_text_as_chromium_does(page: Page, text: str) -> None:
    """Control characters, every kind of line end, non-characters, markup as text and huge values read from the
    HTML exactly as Chromium reads them, trimmed and raw."""
    html = f'<table><tr><td id="text">{escape(text)}</td></tr></table><div id="raw">{escape(text)}</div>'
    assert _served(page)(html, TEXT) == extract_html(html.encode("utf-8"), TEXT, encoding="utf-8")


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ('<td id="text">a\x00b</td><div id="raw"></div>', "NUL"),
        ('<td id="text">a</td><div id="raw"></div><template><b>t</b></template>', "template"),
        ('<td id="text">a</td><div id="raw"><noscript>n</noscript></div>', "noscript"),
        ("", "empty"),
    ],
    ids=["nul", "template", "noscript", "empty"],
)
def test_what_lxml_would_read_differently_needs_the_browser(html: str, reason: str) -> None:
    """A NUL (dropped by Chromium), template and noscript content (kept out of Chromium's tree) and an empty
    answer are not read from the HTML."""
    with pytest.raises(NeedsBrowser, match=reason):
        extract_html(html, TEXT)


def test_a_locator_marked_script_needs_the_browser(tmp_path: Path) -> None:
    """``script: true`` in a selectors file sends the page to the browser, whatever its HTML."""
    (tmp_path / "scripted.yaml").write_text(
        "pages:\n  p:\n    groups:\n      g:\n        rows: {css: tr}\n"
        "        fields:\n          x: {css: td, script: true}\n"
    )
    load.cache_clear()
    locators = load("scripted", tmp_path)["p"]
    load.cache_clear()
    assert locators.needs_script
    with pytest.raises(NeedsBrowser, match="script"):
        extract_html("<table><tr><td>1</td></tr></table>", locators)
