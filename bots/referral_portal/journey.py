"""One pass through a portal's referral form: the route's step kinds, each implemented once, in order, up to the
final submit button (which the bot presses, once)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from playwright.sync_api import Frame, Page

from bots.referral_portal.fields import GROUPS, LISTS, SCALAR_FIELDS, YOUR_REFERENCE, Entry, entries, entry_of
from bots.referral_portal.pages import FormPage
from bots.submission import PartnerRejected
from vhub.errors import SessionExpired

if TYPE_CHECKING:
    from bots.referral_portal.bot import ReferralPortalBot

ADD_BUTTONS = {"children": "add_child", "household": "add_member"}


class Journey:
    def __init__(self, bot: ReferralPortalBot, data: dict[str, Any], key: str) -> None:
        self.bot = bot
        self.route = bot.route
        self.data = data  # the ReferralForm as JSON
        self.key = key
        self.skip = frozenset(self.route.not_asked)
        self.target: Page | Frame = bot.session.page
        self.opened = False

    def page(self, name: str) -> FormPage:
        bot = self.bot
        return FormPage(
            bot.session.page,
            bot.base_url,
            bot.locators[name],
            bot.system_name,
            target=self.target,
            route=self.route,
            picker=bot.locators.get("date_picker"),
        )

    def open(self, page: FormPage) -> None:
        """The first step opens its page by its path; later steps carry on where the last one left off."""
        if not self.opened:
            page.open()
            self.opened = True

    def fill(self) -> FormPage:
        """Run every step of the flow; returns the page whose ``submit`` button sends the referral."""
        steps = {
            "search_existing": self.search_existing,
            "framed_form": self.framed_form,
            "wizard": self.wizard,
            "long_form": self.long_form,
        }
        final = None
        for kind in self.route.flow:
            final = steps[kind]()
        assert final is not None  # the route ends with a form step (PortalRoute checks it)
        return final

    def click(self, page: FormPage, name: str) -> None:
        """Post with the button ``name``; PartnerRejected, in the portal's own words, if it answers with errors."""
        page.click(name)
        messages, _ = page.outcome(self.bot.locators["outcome"])
        if messages:
            raise PartnerRejected(self.bot.system_name, "; ".join(messages))

    # -- step kinds ------------------------------------------------------------------------------------------

    def search_existing(self) -> None:
        page = self.page("search_existing")
        self.open(page)
        child = self.data["children"][0]
        wanted = [entry_of(child, GROUPS["children"], name) for name in ("surname", "date_of_birth")]
        page.fill_in([page.planned(entry, entry.locator) for entry in wanted])
        self.click(page, "search")
        self.click(page, "create_new")

    def framed_form(self) -> None:
        page = self.page("frame")
        self.open(page)
        frame = page.frame_of("iframe")
        if page.is_sign_in(frame.url):
            raise SessionExpired(f"The {self.bot.system_name} ended the session; signing in again.")
        self.target = frame

    def wizard(self) -> FormPage:
        steps = self.route.wizard_steps
        for number, name in enumerate(steps, start=1):
            page = self.page(name)
            self.open(page)
            page.fill_in(self.scalars(page))
            for group in GROUPS:
                if group in page.locators.groups:
                    for position, item in enumerate(self.data[LISTS[group]]):
                        page.fill_in(self.block(page, group, 0, item, position))
                        if not (group == "children" and self.route.takes_one_child):
                            self.click(page, ADD_BUTTONS[group])  # a one-child page posts its child with Next
            if number == len(steps):
                return page
            self.click(page, "next")
        raise AssertionError("a wizard has at least one step")  # PortalRoute requires wizard_steps

    def long_form(self) -> FormPage:
        page = self.page("form")
        self.open(page)
        groups = [group for group in GROUPS if group in page.locators.groups]
        for group, shown in page.block_counts(groups).items():
            for _ in range(len(self.data[LISTS[group]]) - shown):
                self.click(page, ADD_BUTTONS[group])  # each round trip adds one blank block (fill_in checks)
        plan = self.scalars(page)
        for group in GROUPS:
            if group in page.locators.groups:
                for index, item in enumerate(self.data[LISTS[group]]):
                    plan += self.block(page, group, index, item)
        page.fill_in(plan)
        return page

    # -- filling ---------------------------------------------------------------------------------------------

    def scalars(self, page: FormPage) -> list[dict[str, Any]]:
        """The page's fields outside blocks, and the submission key in "your reference" if the page has it."""
        found = [entry for entry in entries(self.data, SCALAR_FIELDS, self.skip) if page.has(entry.locator)]
        if page.has(YOUR_REFERENCE):
            found.append(Entry(YOUR_REFERENCE, "text", self.key))
        return [page.planned(entry, entry.locator) for entry in found]

    def block(
        self, page: FormPage, group: str, index: int, item: dict[str, Any], position: int | None = None
    ) -> list[dict[str, Any]]:
        """The fields of one child or household member, in the ``index``-th block of ``group`` (messages name it
        by its ``position`` in the draft's list, 0-based, when that differs: a wizard shows one block at a time)."""
        named = index if position is None else position
        return [
            page.planned(entry, f"{group}[{named}].{entry.locator}", group, index)
            for entry in entries(item, GROUPS[group], self.skip, f"{LISTS[group]}[].")
        ]
