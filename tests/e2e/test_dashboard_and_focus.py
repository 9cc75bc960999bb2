"""The dashboard's on-time chart and the focus ring, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ReviewApp, sign_in
from vhub.review import dashboard
from vhub.store.tables import utcnow

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

# Each focusable kind on the app's pages: the header's links (on blue), links, buttons plain and primary, fields,
# and a details summary.
FOCUSABLE = (
    "header nav a",
    "header button",
    "main a",
    "#save",
    "#approve",
    "main textarea",
    "main input:not([type=hidden])",
    "main select",
    "#other-decisions summary",
)
# The ring's colours and the background behind the element (the nearest ancestor that paints one).
RING = """(element) => {
  const style = getComputedStyle(element);
  let node = element.parentElement, background = 'rgb(255, 255, 255)';
  for (; node; node = node.parentElement) {
    const colour = getComputedStyle(node).backgroundColor;
    if (colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') { background = colour; break; }
  }
  const outline = style.outlineStyle === 'none' ? null : style.outlineColor;
  return {visible: element.matches(':focus-visible'), outline, width: parseFloat(style.outlineWidth),
          shadow: style.boxShadow, background};
}"""


def luminance(colour: str) -> float:
    channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_focus_ring_has_3_to_1_contrast_on_every_focusable_kind(page: Page, review_app: ReviewApp) -> None:
    """Focused by keyboard, each kind of control shows a ring at least 2 px wide with 3:1 contrast or more
    against the background it sits on."""
    draft_id = review_app.take(workflow="referral", not_risk="red")
    sign_in(page, "alex.reviewer")
    page.goto(f"/drafts/{draft_id}")
    page.keyboard.press("Tab")  # keyboard use: focus from here on is shown as focus-visible
    for selector in FOCUSABLE:
        element = page.locator(f"{selector} >> visible=true").first
        element.focus()
        ring = element.evaluate(RING)
        colours = [ring["outline"]] if ring["outline"] else []
        colours += re.findall(r"rgba?\([^)]*\)", ring["shadow"] or "")
        best = max((contrast(colour, ring["background"]) for colour in colours), default=0.0)
        assert ring["visible"] and ring["width"] >= 2, (selector, ring)
        assert best >= 3, (selector, ring, round(best, 2))


def test_the_on_time_chart_draws_the_days_figure_even_at_0_per_cent(page: Page, review_app: ReviewApp) -> None:
    """After a late decision (the test drafts are overdue) the on-time chart shows today's share as the store has
    it; it never says there is nothing to show."""
    draft_id = review_app.take(workflow="encompass", not_risk="red")
    sign_in(page, "alex.reviewer")
    page.goto(f"/drafts/{draft_id}")
    page.locator("#approve").click()
    page.wait_for_url("**/queue?*done=approved*")
    with review_app.db.session(read_only=True) as session:
        today = dashboard.compute(session, utcnow()).today.compliance
    assert today.decided >= 1
    page.goto("/dashboard")
    chart = page.locator("#chart-on-time")
    expect(chart.locator("svg")).to_be_visible()
    expect(chart).not_to_contain_text("Nothing to show")
    expect(chart).to_contain_text(f"{today.share_text} ({today.on_time} of {today.decided})")
