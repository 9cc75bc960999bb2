"""The records bot reading incident pages and result lists by request and in the browser, against the real
simulated records system, in a real Chromium: both ways must read the same."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser
from structlog.testing import capture_logs

from bots import reading
from bots.locators import PageLocators, extract, extract_html, html_problems, load, problems
from bots.records_system import RecordsBot
from bots.records_system.pages import IncidentPage
from tests.bots.conftest import admin, serving
from tests.factories import raw_incident
from vhub import redaction
from vhub.browser import BrowserSession
from vhub.errors import BusinessError, SelectorDrift
from vhub.settings import Settings
from vhub.simulated import simulated_system

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEED, INCIDENTS = 7, 40  # two pages of search results
HOSTILE = (
    'Said "leave <b>now</b>" &amp; left\r\nat 23:10.\tThen: <script>alert(1)</script>\r'
    "\u00a0 non-breaking \u200b zero width \ufeff BOM \u202eRTL\u202c e\u0301 \U0001f600"
    " \x0b\x0c\x1f\x7f\x85 \ufffe end"
)
VARIANT = """
system: variant
pages:
  incident:
    path: /occurrence
    locators:
      reference: {css: "span#lblOccRef"}
      officer: {xpath: "//th[normalize-space()='OIC']/following-sibling::td[1]"}
      line1: {css: "#pnlLocation .addr-line1"}
      narrative: {css: "div#txtNarrative", raw: true}
      no_ppn: {css: "span#lblNoPpn", optional: true}
    groups:
      people:
        rows: {css: "table#gvNominals > tbody > tr"}
        fields:
          surname: {css: "td.nom-surname"}
          voice_of_child: {xpath: "./td[10]", raw: true}
      dash:
        rows: {css: "table#gvDash > tbody > tr"}
        fields:
          number: {css: "td.dash-q"}
          answer: {xpath: "./td[3]"}
      child_risk_assessments:
        rows: {css: "div.cra-panel"}
        fields:
          nominal_ref: {css: "#pnlCra span.cra-ref"}
          summary: {css: "div.cra-summary", raw: true}
"""


# What a child risk assessment records for the quality audit; the fullest's second assessment has none of it.
AUDITED = {
    "age_years": 9,
    "voice_of_child": 'Said "he <b>shouts</b>" & hid.\n\nSeen with Nan.',
    "risk_factors": ["Domestic abuse in the household", "Child present during the incident"],
    "actions": [
        {"action": "Refer to children's services", "owner": "VHub"},
        {"action": "Welfare visit within 7 days", "owner": None},
    ],
    "area": "Worcestershire",
    "team": "Response Team <B>",
}


def _fullest() -> dict[str, Any]:
    """An incident with every field the page shows filled in, free text with markup, line ends and odd spaces."""
    raw = raw_incident(reference=None, system_id=None, narrative=HOSTILE)
    raw["people"][2]["voice_of_child"] = 'I was scared.\n\n  She said  "it\'s fine" & <i>hid</i>.'
    raw["people"][2]["home_educated"] = True
    raw["people"].append({**raw["people"][2], "nominal_ref": "N100004", "forename": "Drew", "age_years": 4})
    del raw["people"][3]["date_of_birth"]
    raw["dash"]["answers"] = {key: index % 3 == 0 or None for index, key in enumerate(raw["dash"]["answers"])}
    raw["child_risk_assessments"].append({**raw["child_risk_assessments"][0], "nominal_ref": "N100004"})
    raw["child_risk_assessments"][0].update(AUDITED)
    return raw


@pytest.fixture(scope="module")
def records_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The records system with 40 generated incidents, then the fullest incident and one with a NUL in its text."""
    log = tmp_path_factory.mktemp("records-system") / "server.log"
    with serving("fixtures.records_system", log, "--seed", str(SEED), "--incidents", str(INCIDENTS)) as url:
        admin(url, "POST", "incidents", [_fullest(), raw_incident(reference=None, system_id=None, narrative="a\x00b")])
        yield url


def _bot(url: str, browser: Browser, data_dir: Path, *, by_request: bool, **settings: Any) -> RecordsBot:
    config = Settings(data_dir=data_dir, records_system=simulated_system("records_system", url), **settings)
    bot = RecordsBot(config, BrowserSession(config, "records_system", browser=browser))
    bot.read_by_request = by_request
    return bot


@pytest.fixture
def pair(records_url: str, browser: Browser, tmp_path: Path) -> Iterator[tuple[RecordsBot, RecordsBot]]:
    """A bot reading by request and one reading in the browser, each over its own session; standard layout and no
    errors afterwards."""
    bots = (
        _bot(records_url, browser, tmp_path / "request", by_request=True),
        _bot(records_url, browser, tmp_path / "browser", by_request=False),
    )
    yield bots
    for bot in bots:
        bot.session.close()
    admin(records_url, "POST", "faults", {"layout": "standard", "error_rate": 0})


def _ids(url: str) -> list[int]:
    """Every incident's system id, the planted ones last (the fullest, then the one with a NUL)."""
    return [record["system_id"] for record in admin(url, "GET", "truth")["incidents"]]


def _fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs the request path fetches from now on."""
    urls: list[str] = []
    real = reading.fetch

    def counted(session: BrowserSession, page: Any, url: str) -> reading.Fetched:
        urls.append(url)
        return real(session, page, url)

    monkeypatch.setattr(reading, "fetch", counted)
    return urls


def test_every_incident_reads_the_same_both_ways(pair: tuple[RecordsBot, RecordsBot], records_url: str) -> None:
    """Every incident (the fullest, with markup, line ends and odd spaces in its free text, among them) reads the same
    by request as in the browser; by request only the first read, checked both ways, used the browser's page."""
    by_request, by_browser = pair
    ids = _ids(records_url)
    fullest = by_browser.read_incident(ids[-2])
    assert (4, 2, 27, "medium") == (
        len(fullest["people"]),
        len(fullest["child_risk_assessments"]),
        len(fullest["dash"]["answers"]),
        fullest["ppn"]["grade"],
    )
    assessed, older = fullest["child_risk_assessments"]
    assert AUDITED == {key: assessed[key] for key in AUDITED}
    assert (None, None, [], [], None, None) == tuple(older[key] for key in AUDITED)
    for system_id in ids[:-1]:
        assert by_browser.read_incident(system_id) == by_request.read_incident(system_id), system_id
    assert 1 == by_request.session.items_in_context


def test_the_scan_lists_the_same_versions_both_ways(pair: tuple[RecordsBot, RecordsBot], records_url: str) -> None:
    """The scan's result pages after the first (read by request) list what the browser lists, every incident once."""
    by_request, by_browser = pair
    listed = by_request.list_changed_since(None)
    assert by_browser.list_changed_since(None) == listed
    assert sorted(_ids(records_url)) == sorted(item.system_id for item in listed)


def test_the_variant_layout_reads_the_same_both_ways(
    pair: tuple[RecordsBot, RecordsBot], records_url: str, tmp_path: Path
) -> None:
    """In the variant layout the HTML counts the shipped locators' matches as the browser does, locators written for
    the variant read the same values both ways (rows written without a tbody are in one), and both bots stop with
    the same SelectorDrift."""
    by_request, by_browser = pair
    for bot in pair:
        bot.read_incident(1)  # signed in before the layout changes
    admin(records_url, "POST", "faults", {"layout": "variant"})
    (tmp_path / "variant.yaml").write_text(VARIANT)
    load.cache_clear()
    variant = load("variant", tmp_path)["incident"]
    load.cache_clear()
    shipped = load("records_system")["incident"]
    page = by_browser.session.page
    for system_id in (1, _ids(records_url)[-2]):
        url = f"{records_url}/occurrence?id={system_id}"
        page.goto(url)
        html = by_browser.session.request.get(url).body()
        assert problems(page, shipped) == html_problems(html, shipped, encoding="utf-8") != []
        assert extract(page, variant) == extract_html(html, variant, encoding="utf-8")
    drifts = []
    for bot in pair:
        with pytest.raises(SelectorDrift) as caught:
            bot.read_incident(2)
        drifts.append((caught.value.page, caught.value.locator, caught.value.matched))
    assert drifts[0] == drifts[1]


def test_drift_on_the_request_path_keeps_the_fetched_page_as_evidence(
    pair: tuple[RecordsBot, RecordsBot], records_url: str
) -> None:
    """A page that drifted, read by request, leaves the HTML fetched and its URL in the evidence folder, with the
    trace, screenshot and page of the browser that read it again to confirm."""
    by_request, _ = pair
    by_request.read_incident(1)
    admin(records_url, "POST", "faults", {"layout": "variant"})
    with pytest.raises(SelectorDrift):
        by_request.read_incident(3)
    [folder] = (by_request.settings.evidence_dir / "records_system").iterdir()
    assert f"{records_url}/occurrence?id=3\n" == (folder / "fetched-url.txt").read_text()
    assert b'<span id="lblSysId">3</span>' in (folder / "fetched.html").read_bytes()
    assert {"fetched-url.txt", "fetched.html", "page.html", "screenshot.png", "trace.zip"} == {
        path.name for path in folder.iterdir()
    }


def test_an_ended_session_signs_in_again(pair: tuple[RecordsBot, RecordsBot], records_url: str) -> None:
    """A request bounced to the sign-in page signs in again in the browser and reads on by request, the same as
    before (the sign-in page is not taken for a page that reads differently)."""
    by_request, by_browser = pair
    expected = by_browser.read_incident(5)
    by_request.read_incident(4)
    sign_ins = admin(records_url, "GET", "stats")["sign_ins"]
    assert 0 < admin(records_url, "POST", "expire-sessions")["expired"]
    opened: list[str] = []
    by_request.session.page.on("request", lambda request: opened.append(urlparse(request.url).path))
    with capture_logs() as events:
        assert expected == by_request.read_incident(5)
    assert sign_ins + 1 == admin(records_url, "GET", "stats")["sign_ins"]
    assert ["retrying step", "signed in"] == [event["event"] for event in events]
    assert "/occurrence" not in opened  # the browser only signed in


def test_server_errors_are_retried(pair: tuple[RecordsBot, RecordsBot], records_url: str) -> None:
    """With a third of requests failing with 503, each page read by request is still read whole."""
    by_request, by_browser = pair
    expected = [by_browser.read_incident(system_id) for system_id in range(6, 12)]
    errors = admin(records_url, "GET", "stats")["errors_injected"]
    admin(records_url, "POST", "faults", {"error_rate": 0.3})
    assert expected == [by_request.read_incident(system_id) for system_id in range(6, 12)]
    assert admin(records_url, "GET", "stats")["errors_injected"] > errors


def test_an_incident_gone_is_a_business_error(pair: tuple[RecordsBot, RecordsBot]) -> None:
    """An incident the records system no longer has is a BusinessError naming its id, not a retry."""
    by_request, _ = pair
    with pytest.raises(BusinessError) as caught:
        by_request.read_incident(99_999)
    assert "not_found" == caught.value.code
    assert "no longer shows incident id 99999" in caught.value.message


def test_a_page_the_html_cannot_read_is_read_in_the_browser(
    pair: tuple[RecordsBot, RecordsBot], records_url: str
) -> None:
    """An incident whose page holds a NUL character (which Chromium drops and lxml does not) is read in the
    browser, the same as the browser bot reads it, and the log says why without the page's content."""
    by_request, by_browser = pair
    with_nul = _ids(records_url)[-1]
    by_request.read_incident(1)
    with capture_logs() as events:
        read = by_request.read_incident(with_nul)
    assert by_browser.read_incident(with_nul) == read
    assert "ab" == read["narrative"]
    assert [("page read in the browser", "incident", "the page holds NUL characters")] == [
        (event["event"], event["page"], event["reason"]) for event in events
    ]


def test_a_page_that_reads_differently_is_read_in_the_browser_from_then_on(
    pair: tuple[RecordsBot, RecordsBot], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the first read of a page by request differs from the browser's, the browser's is used, the warning
    names the field (not its value), and later reads of that page go to the browser without fetching."""
    by_request, by_browser = pair
    real = reading.extract_html

    def misread(*args: Any, **kwargs: Any) -> dict[str, Any]:
        data = real(*args, **kwargs)
        data["values"]["officer"] = "PC 0000"
        return data

    monkeypatch.setattr(reading, "extract_html", misread)
    with capture_logs() as events:
        first = by_request.read_incident(12)
    assert by_browser.read_incident(12) == first
    [warning] = [event for event in events if event["log_level"] == "warning"]
    assert ("incident", ["values.officer"]) == (warning["page"], warning["fields"])
    fetched = _fetches(monkeypatch)
    assert by_browser.read_incident(13) == by_request.read_incident(13)
    assert [] == fetched


def test_drift_in_the_html_alone_is_read_in_the_browser(
    pair: tuple[RecordsBot, RecordsBot], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A locator that matches wrongly in the HTML but not in the browser: the browser's read is used, the warning
    names the locator, and the page is read in the browser from then on."""
    by_request, by_browser = pair
    by_request.read_incident(1)

    def drifted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise SelectorDrift("records_system", "incident", "officer", 2)

    monkeypatch.setattr(reading, "extract_html", drifted)
    with capture_logs() as events:
        assert by_browser.read_incident(14) == by_request.read_incident(14)
    assert [["officer (matched 2 in the HTML)"]] == [event["fields"] for event in events if "fields" in event]
    fetched = _fetches(monkeypatch)
    by_request.read_incident(15)
    assert [] == fetched


def test_a_page_with_a_script_locator_is_read_in_the_browser(
    pair: tuple[RecordsBot, RecordsBot], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page with a locator marked ``script`` in its selectors file is never fetched: the browser reads it."""
    by_request, _ = pair
    shipped = load("records_system")["incident"]
    officer = dataclasses.replace(shipped["officer"], script=True)
    marked: PageLocators = dataclasses.replace(shipped, locators={**shipped.locators, "officer": officer})
    fetched = _fetches(monkeypatch)
    page = IncidentPage(by_request.session.page, by_request.base_url, marked, "records system")
    with by_request.session.item("script-page"):
        read = by_request.step(lambda: reading.read_page(by_request.session, page, page.url_of(15)))
        assert extract(by_request.session.page, shipped) == read
    assert [] == fetched


def test_what_is_read_is_remembered_and_never_logged(pair: tuple[RecordsBot, RecordsBot], records_url: str) -> None:
    """The names, dates of birth and addresses read by request are masked by the redactor and appear in no log."""
    by_request, _ = pair
    redaction.forget()
    with capture_logs() as events:
        raw = by_request.read_incident(_ids(records_url)[-2])
    person = raw["people"][0]
    values = [person["forename"], person["surname"], person["date_of_birth"], person["address"]["line1"]]
    assert [] == [value for value in values if value in repr(events)]
    assert ["[name]"] * 4 == [redaction.redact_text(value) for value in values]
    redaction.forget()


def test_reads_by_request_do_not_renew_the_context(records_url: str, browser: Browser, tmp_path: Path) -> None:
    """The context is renewed after N items that used its page; pages read by request alone keep it, and its
    sign-in, however many there are."""
    bot = _bot(records_url, browser, tmp_path, by_request=True, browser_recycle_every=2)
    sign_ins = admin(records_url, "GET", "stats")["sign_ins"]
    for system_id in range(16, 24):
        bot.read_incident(system_id)
    bot.session.close()
    assert (1, sign_ins + 1) == (bot.session.contexts_opened, admin(records_url, "GET", "stats")["sign_ins"])
