"""Page objects of a referral portal, on the browser page or inside a frame of it: filling a page's fields in one
round trip whatever their widgets (text, select, radios, checkbox, date picker), clicking a button that posts, and
reading what the portal answered (its error messages, its reference).

Every element is counted before it is used: none or several is SelectorDrift naming the locator. Playwright's
errors become vhub's; a bounce to the sign-in page, in the frame or not, is SessionExpired.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any, cast
from urllib.parse import urljoin

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Page
from playwright.sync_api import Locator as PwLocator
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bots.locators import PageLocators, extract
from bots.portal import PortalPage
from bots.referral_portal.fields import Entry, field_label
from bots.referral_portal.route import NOT_KNOWN, PortalRoute
from bots.submission import DraftNotSendable
from bots.web import check_response
from vhub.errors import ConfigurationError, SelectorDrift, SessionExpired, SystemUnavailable

# Fill a page in one round trip: each planned field is found (relative to its block when it has one), counted
# (not exactly one is a problem: drift), then set as its widget needs. A value is set with the element's own
# setter plus input and change events, as typing leaves it; a choice is the first option (select), radio or
# date-picker part whose value, or whitespace-folded label, equals a wanted one; a checkbox takes yes or no. A "not
# known" the widget has no option for is listed apart (the draft goes back to review), and so is a typed date the
# field emptied (an HTML date input blanks a date in any format but its own).
_FIND_JS = """
  const find = (spec, root) => {
    if (spec.css) return Array.from(root.querySelectorAll(spec.css));
    const found = document.evaluate(spec.xpath, root, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
    const out = [];
    for (let i = 0; i < found.snapshotLength; i++) out.push(found.snapshotItem(i));
    return out;
  };
"""
_FILL_JS = (
    "(plan) => {"
    + _FIND_JS
    + """
  const text = (node) => (node ? node.textContent : "").replace(/\\s+/g, " ").trim();
  const fold = (value) => value.toLowerCase().replace(/\\s+/g, " ").trim();
  const fire = (el) => {
    el.dispatchEvent(new Event("input", {bubbles: true}));
    el.dispatchEvent(new Event("change", {bubbles: true}));
  };
  const setValue = (el, value) => {
    const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
      : el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, "value").set.call(el, value);
    fire(el);
  };
  const fits = (value, label, wanted) => value === wanted || (wanted !== "" && fold(label) === fold(wanted));
  const choose = (el, wanted) => {
    if (el instanceof HTMLSelectElement) {
      for (const want of wanted) for (const option of el.options) {
        if (fits(option.value, text(option), want)) { setValue(el, option.value); return null; }
      }
      return "select";
    }
    if (el instanceof HTMLInputElement && el.type === "checkbox") {
      if (wanted[0] !== "yes" && wanted[0] !== "no") return "checkbox";
      el.checked = wanted[0] === "yes";
      fire(el);
      return null;
    }
    const radios = Array.from(el.querySelectorAll("input[type=radio]"));
    for (const want of wanted) for (const radio of radios) {
      const label = radio.labels && radio.labels.length ? text(radio.labels[0]) : "";
      if (fits(radio.value, label, want)) { radio.checked = true; fire(radio); return null; }
    }
    return radios.length ? "radios" : el.tagName.toLowerCase();
  };
  const problems = [];
  const unmatched = [];
  const one = (spec, root, where) => {
    const found = find(spec, root);
    if (found.length === 1) return found[0];
    problems.push({locator: where, matched: found.length});
    return null;
  };
  const notKnown = [];
  const refusedDates = [];
  const pick = (el, wanted, where, known) => {
    const widget = choose(el, wanted);
    if (widget && !known) notKnown.push(where);
    else if (widget) unmatched.push({where, widget, wanted: wanted[0]});
  };
  for (const item of plan) {
    let root = document;
    if (item.rows) {
      const rows = find(item.rows, document);
      if (rows.length <= item.index) { problems.push({locator: item.group + ".rows", matched: rows.length}); continue; }
      root = rows[item.index];
    }
    const el = one(item.locator, root, item.where);
    if (!el) continue;
    if (item.kind === "text") {
      setValue(el, item.value);
      if (item.typedDate && item.value && !el.value) refusedDates.push(item.where);
    }
    else if (item.kind === "choice") pick(el, item.wanted, item.where, item.known);
    else for (const part of item.parts) {
      const list = one(part.locator, el, item.where + "." + part.name);
      if (list) pick(list, part.wanted, item.where + "." + part.name, true);
    }
  }
  return {problems, unmatched, notKnown, refusedDates};
}
"""
)
# Count a button's matches and, when it is exactly one, click it once this evaluation has returned (so the
# navigation it starts cannot cut the answer off).
_CLICK_JS = (
    "(spec) => {"
    + _FIND_JS
    + """
  const found = find(spec, document);
  if (found.length === 1) setTimeout(() => found[0].click(), 0);
  return found.length;
}
"""
)
_COUNT_JS = "(specs) => {" + _FIND_JS + "  return specs.map((spec) => find(spec, document).length);\n}"


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:120] if str(error) else type(error).__name__


class FormPage(PortalPage):
    """One page of a referral journey; ``target`` is the browser page or the frame the page is shown in."""

    def __init__(
        self,
        page: Page,
        base_url: str,
        locators: PageLocators,
        system_name: str,
        *,
        target: Page | Frame | None = None,
        route: PortalRoute | None = None,
        picker: PageLocators | None = None,
    ) -> None:
        super().__init__(page, base_url, locators, system_name)
        self.target: Page | Frame = target or page
        self.route = route
        self.picker = picker

    def on_sign_in_page(self) -> bool:
        return self.is_sign_in(self.target.url)

    def open(self) -> None:
        self.open_url(self.url)

    # -- finding -------------------------------------------------------------------------------------------

    def element(self, name: str) -> PwLocator:
        found = self.target.locator(self.locators[name].playwright)
        matched = found.count()
        if matched != 1:
            raise SelectorDrift(self.locators.system, self.locators.name, name, matched)
        return found

    def has(self, name: str) -> bool:
        return name in self.locators.locators

    def block_counts(self, groups: list[str]) -> dict[str, int]:
        """How many blocks each group has on the page now, in one round trip."""
        specs = [self.locators.group(group).rows.spec() for group in groups]
        return dict(zip(groups, self._evaluate(_COUNT_JS, specs), strict=True))

    # -- entering --------------------------------------------------------------------------------------------

    @property
    def _route(self) -> PortalRoute:
        if self.route is None:
            raise ConfigurationError("A referral page was used without its route.")
        return self.route

    def planned(self, entry: Entry, where: str, group: str | None = None, index: int = 0) -> dict[str, Any]:
        """One field to fill: where it is (``group``'s ``index``-th block, 0-based) and what it takes."""
        route = self._route
        spec = self.locators.group(group) if group else None
        locator = spec.fields[entry.locator] if spec else self.locators[entry.locator]
        item: dict[str, Any] = {
            "where": where,
            "locator": locator.spec(),
            "group": group,
            "rows": spec.rows.spec() if spec else None,
            "index": index,
            "kind": "text",
        }
        if entry.kind == "choice":
            wanted = [route.choices.get(entry.value, entry.value)]
            return {**item, "kind": "choice", "wanted": wanted, "known": entry.value != NOT_KNOWN}
        if entry.kind == "date" and route.date_entry == "date_picker":
            return {**item, "kind": "picker", "parts": self._picker_parts(entry.value)}
        if entry.kind == "date":
            typed = entry.value.strftime(route.date_format) if entry.value else ""
            return {**item, "value": typed, "typedDate": True}
        return {**item, "value": str(entry.value)}

    def _picker_parts(self, day: date | None) -> list[dict[str, Any]]:
        if self.picker is None:
            raise ConfigurationError(f"selectors/{self._route.portal}.yaml has no date_picker page.")
        wanted: dict[str, list[str]] = {"day": [""], "month": [""], "year": [""]}
        if day:
            month = [str(day.month), f"{day.month:02d}", calendar.month_abbr[day.month], calendar.month_name[day.month]]
            wanted = {"day": [str(day.day), f"{day.day:02d}"], "month": month, "year": [str(day.year)]}
        return [{"name": part, "locator": self.picker[part].spec(), "wanted": wanted[part]} for part in wanted]

    def fill_in(self, plan: list[dict[str, Any]]) -> None:
        """Fill every planned field in one round trip; SelectorDrift for a field not found exactly once,
        ConfigurationError for a choice the widget does not offer or a date it would not take as typed,
        DraftNotSendable (back to review) for a "not known" the widget cannot hold."""
        result: dict[str, Any] = self._evaluate(_FILL_JS, plan)
        route = self._route
        if result["problems"]:
            first = result["problems"][0]
            raise SelectorDrift(self.locators.system, self.locators.name, first["locator"], first["matched"])
        if result["refusedDates"]:
            raise ConfigurationError(
                f"The {self.system_name} emptied the date typed in '{result['refusedDates'][0]}' on page "
                f"'{self.locators.name}': it takes dates in another format than date_format {route.date_format!r} "
                f"of [referral.{route.authority}] in config/portals.toml (an HTML date field takes '%Y-%m-%d'). "
                "Nothing was sent."
            )
        if result["unmatched"]:
            first = result["unmatched"][0]
            raise ConfigurationError(
                f"selectors/{route.portal}.yaml: '{first['where']}' on page '{self.locators.name}' (a "
                f"{first['widget']}) offers no option for {first['wanted']!r}. Map the value to one of the portal's "
                f"options under [referral.{route.authority}.choices] in config/portals.toml."
            )
        if result["notKnown"]:
            fields = ", ".join(field_label(where) for where in result["notKnown"])
            raise DraftNotSendable(
                self.system_name,
                f"the draft says not known for {fields}, but the portal's form can only say yes or no there, so "
                "nothing was sent. Find out the answer and enter it.",
            )

    # -- posting and reading the answer ----------------------------------------------------------------------

    def _evaluate(self, script: str, arg: Any) -> Any:
        try:
            return self.target.evaluate(script, arg)
        except PlaywrightTimeoutError:
            raise SystemUnavailable(f"The {self.system_name} page did not answer in time.") from None
        except PlaywrightError as error:
            raise SystemUnavailable(f"The {self.system_name} page could not be used ({_first_line(error)}).") from None

    def click(self, name: str) -> None:
        """Click a button that posts the form (counted and clicked in one round trip) and wait for the page it
        leads to, in the same frame."""
        try:
            with self.target.expect_navigation(wait_until="domcontentloaded") as navigation:
                matched = self.target.evaluate(_CLICK_JS, self.locators[name].spec())
                if matched != 1:
                    raise SelectorDrift(self.locators.system, self.locators.name, name, matched)
            check_response(navigation.value, system=self.system_name)
        except PlaywrightTimeoutError:
            raise SystemUnavailable(f"The {self.system_name} did not answer in time.") from None
        except PlaywrightError as error:
            raise SystemUnavailable(f"The {self.system_name} could not be reached ({_first_line(error)}).") from None
        if self.on_sign_in_page():
            raise SessionExpired(f"The {self.system_name} ended the session; signing in again.")

    def read(self) -> dict[str, Any]:
        """Every locator and group of the page, in one round trip (in the frame, when the page is in one)."""
        return self.read_as(self.locators)

    def read_as(self, locators: PageLocators) -> dict[str, Any]:
        try:
            # A frame answers evaluate() as a page does, which is all extract() asks of it.
            return extract(cast(Page, self.target), locators)
        except PlaywrightError as error:
            raise SystemUnavailable(f"The {self.system_name} page could not be read ({_first_line(error)}).") from None

    def outcome(self, outcome: PageLocators) -> tuple[list[str], str | None]:
        """What the portal answered a post with: its error messages (in its own words) and its reference, if any."""
        data = self.read_as(outcome)
        messages = [str(row["message"]) for row in data["groups"]["errors"] if row.get("message")]
        reference = data["values"].get("reference")
        return messages, str(reference).strip() if reference else None

    def frame_of(self, name: str) -> Frame:
        """The frame the iframe ``name`` shows, once its page has loaded."""
        try:
            iframe = self.element(name).element_handle()
            frame = iframe.content_frame()
            if frame is not None:
                # The iframe's own load hides its HTTP status (a 503 page in it would look like drift later):
                # the frame's page is opened again from the frame, so the answer is checked like any other. Its
                # address comes from the iframe's src: on a slow portal the frame may not have navigated yet
                # (its url still empty or about:blank).
                if source := iframe.get_attribute("src"):
                    source = urljoin(self.target.url, source)
                    check_response(frame.goto(source, wait_until="domcontentloaded"), system=self.system_name)
        except PlaywrightTimeoutError:
            raise SystemUnavailable(f"The {self.system_name} frame did not answer in time.") from None
        except PlaywrightError as error:
            raise SystemUnavailable(
                f"The {self.system_name} frame could not be opened ({_first_line(error)})."
            ) from None
        if frame is None:
            raise SystemUnavailable(f"The {self.system_name} showed its frame without a page in it.")
        return frame
