"""Hostile records on the review pages: the draft page, the queue and the data-quality page show every value as
text, and in Chromium nothing in a record opens a dialog even with the page's script policy taken away."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
import uvicorn
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, Route

from tests.properties.hostile import (
    FREE_TEXT_PATHS,
    MARKUP,
    TEMPLATE,
    TEXT_PATHS,
    Hub,
    hostile_text,
)
from tests.review.support import ACCOUNTS, PASSWORD, ReviewApp, Visitor
from vhub.corrections import reason_paths
from vhub.review import accounts, create_app
from vhub.runtime import free_port, wait_for_http

# Elements and links the review pages never write: markup in a record that became any of them was not escaped.
FOREIGN_TAGS = frozenset({"img", "svg", "iframe", "frame", "object", "embed", "base", "style", "math", "video"})
KNOWN_LINKS = frozenset({"/static/review.css", "data:,"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href"})


class Parsed(HTMLParser):
    """A page as a browser would build it: the elements the markup makes, and every text and attribute value."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.injected: list[str] = []
        self.shown: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in FOREIGN_TAGS:
            self.injected.append(tag)
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.injected.append("an inline script")
        if tag == "link" and values.get("href") not in KNOWN_LINKS:
            self.injected.append("a link")
        for name, value in attrs:
            if name.startswith("on"):
                self.injected.append(f"handler {name}")
            if name in URL_ATTRIBUTES and (value or "").strip().lower().startswith("javascript:"):
                self.injected.append(f"script in {name}")
            self.shown.append(value or "")

    def handle_data(self, data: str) -> None:
        self.shown.append(data)


def parse(html: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(html)
    parsed.close()
    return parsed


@dataclass
class Review:
    """The review app over the hub's store, and a reviewer signed in to it."""

    app: ReviewApp
    reviewer: Visitor

    def page(self, address: str) -> Parsed:
        response = self.reviewer.client.get(address)
        assert 200 == response.status_code, address
        return parse(response.text)


@pytest.fixture(scope="module")
def review(hub: Hub) -> Iterator[Review]:
    username, display_name, role = ACCOUNTS["reviewer"]
    with hub.ctx.db.session() as session:
        accounts.add_user(session, username, PASSWORD, role, display_name, actor="test")
    app = ReviewApp(create_app(hub.ctx.settings, hub.ctx), hub.ctx, hub.ctx.db, {})
    yield Review(app, app.visitor("reviewer"))
    for client in app.clients:
        client.close()


# Markup that breaks out of text, of a text box and of an attribute, with more hostile text around it.
_ATTACK = st.tuples(st.sampled_from(MARKUP), hostile_text(max_fragments=2, control=False)).map("".join)


@settings(max_examples=25)
@given(value=_ATTACK.filter(lambda value: value.strip() and len(value) <= 80), high_risk=st.booleans())
def test_a_record_hostile_in_every_free_text_field_is_text_on_its_draft_pages_and_the_queue(
    hub: Hub, review: Review, value: str, high_risk: bool
) -> None:
    """Each draft page of the record, and the page of anything triage left to a person, adds no element or
    handler; each draft page shows the stored value as written."""
    done = hub.run(hub.fresh(dict.fromkeys(FREE_TEXT_PATHS, value), high_risk=high_risk))
    assert "stored" == done.outcome and done.incident is not None and done.drafts
    stored = done.incident.narrative  # as every other free-text field
    assert [] == review.page("/queue").injected
    for draft in done.drafts:
        page = review.page(f"/drafts/{draft.id}")
        assert [] == page.injected
        assert any(stored in text for text in page.shown), draft.workflow
    for item in done.undecided:
        event("triage left something to a person")
        assert [] == review.page(f"/data-quality/{item.id}").injected


@settings(max_examples=25)
@given(value=st.tuples(_ATTACK, hostile_text()).map("".join))
@example(value="\ud800")
def test_a_record_hostile_in_every_field_is_text_on_its_data_quality_page(hub: Hub, review: Review, value: str) -> None:
    """The data-quality page of a record hostile in every field (NUL, half a UTF-16 pair...) opens and adds no
    element or handler; each field its reasons name is offered for correction as read, if short enough."""
    done = hub.run(hub.fresh(dict.fromkeys(TEXT_PATHS, value)))
    assert done.item is not None
    page = review.page(f"/data-quality/{done.item.id}")
    assert [] == page.injected
    offered = value.encode("utf-8", "replace").decode()  # half a UTF-16 pair is sent as "?"
    assert reason_paths(done.item.reasons)
    if len(value) <= 200:
        assert offered in page.shown
    assert [] == review.page("/queue?type=data_quality").injected


@settings(max_examples=10)
@given(key=hostile_text(max_fragments=3).filter(str.strip))
def test_a_field_named_in_markup_is_text_on_the_data_quality_page(hub: Hub, review: Review, key: str) -> None:
    """An unexpected field named ``<script>…`` is named in the reasons, as text (its first 39 characters)."""
    raw = hub.fresh()
    assume(key not in raw)  # hypothesis also tries names it finds in the code, such as a field's
    raw[key] = "x"
    done = hub.run(raw)
    assert done.item is not None
    page = review.page(f"/data-quality/{done.item.id}")
    assert [] == page.injected
    named = key[:39].encode("utf-8", "replace").decode()  # half a UTF-16 pair is sent as "?"
    assert any(named in text for text in page.shown)


# Chromium: the app served over HTTP as `vhub review serve` serves it, on a thread of the test process so it
# reads the hub's store; each page's Content-Security-Policy is removed on the way, so escaping alone stands
# between a record and a dialog.


@pytest.fixture(scope="module")
def served(review: Review) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(review.app.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="review app", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/healthz")
    yield url
    server.should_exit = True
    thread.join(10)


def _without_script_policy(route: Route) -> None:
    if route.request.resource_type != "document":
        route.continue_()
        return
    response = route.fetch(max_redirects=0)  # the browser follows a redirect itself, with its cookies
    headers = {name: value for name, value in response.headers.items() if name != "content-security-policy"}
    route.fulfill(response=response, headers=headers)


@pytest.fixture(scope="module")
def signed_in(browser: Browser, served: str) -> Iterator[BrowserContext]:
    """A reviewer's browser, signed in once for the module, with no script policy on any page."""
    context = browser.new_context(base_url=served, locale="en-GB", timezone_id="Europe/London")
    context.route("**/*", _without_script_policy)
    page = context.new_page()
    page.goto("/login")
    page.locator("#username").fill(ACCOUNTS["reviewer"][0])
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/queue**")
    page.close()
    yield context
    context.close()


def open_page(context: BrowserContext, address: str, dialogs: list[str]) -> Page:
    """Open a page with a handler that records (and dismisses) any dialog a record's markup opens."""
    page = context.new_page()

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    response = page.goto(address, wait_until="load")
    assert response is not None and 200 == response.status, address
    return page


# Every breakout at once (text, text box, attribute), with template syntax and a right-to-left override.
EVERY_ATTACK = " ".join((*MARKUP, *TEMPLATE[:4], "\u202eevil"))


@pytest.mark.browser
@pytest.mark.parametrize("high_risk", [False, True], ids=["referral-and-notice", "with-marac"])
def test_chromium_shows_script_in_a_record_as_text_on_each_draft_page(
    hub: Hub, signed_in: BrowserContext, high_risk: bool
) -> None:
    """Script in the narrative and the address opens no dialog on any draft page and reads exactly as written."""
    narrative = f"Officers attended. A message read {EVERY_ATTACK} (copied)."
    done = hub.run(hub.fresh({"location.line1": EVERY_ATTACK, "narrative": narrative}, high_risk=high_risk))
    assert "stored" == done.outcome and done.drafts
    dialogs: list[str] = []
    shown = []
    for draft in done.drafts:
        page = open_page(signed_in, f"/drafts/{draft.id}", dialogs)
        shown.append((page.locator("#narrative").text_content(), page.locator("dd", has_text=EVERY_ATTACK).count()))
        page.close()
    assert [] == dialogs
    assert [(narrative, 1)] * len(done.drafts) == shown


@pytest.mark.browser
def test_chromium_offers_a_hostile_value_as_text_on_the_data_quality_page(hub: Hub, signed_in: BrowserContext) -> None:
    """Script and a NUL byte in every field open no dialog; each correction box holds its value as read."""
    value = f"{EVERY_ATTACK}\x00"
    done = hub.run(hub.fresh(dict.fromkeys(TEXT_PATHS, value)))
    assert done.item is not None
    dialogs: list[str] = []
    page = open_page(signed_in, f"/data-quality/{done.item.id}", dialogs)
    boxes = page.locator("#correct-form input[name]:not([type=hidden]):not(#c-note)")
    offered = [boxes.nth(index).input_value() for index in range(boxes.count())]
    page.close()
    assert [] == dialogs
    # A browser reads a NUL byte in a page as U+FFFD; everything else is as read.
    assert [value.replace("\x00", "\ufffd")] * len(reason_paths(done.item.reasons)) == offered
