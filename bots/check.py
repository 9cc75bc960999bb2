"""`vhub selectors check`: open each page of a system and check every locator of its selectors file.

A locator must match exactly one element (optional ones: none or one). Pages reachable by their path
are checked after signing in (the sign-in page before); a page marked ``check: false`` in the selectors
file is reached only part-way through a journey (a wizard's later step) and is named as not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from bots.locators import SELECTORS_DIR, load, problems
from bots.portal import PortalPage, SignedInBot, join_url
from bots.web import navigate
from vhub.browser import BrowserSession
from vhub.errors import VhubError
from vhub.settings import Settings


@dataclass
class PageCheck:
    page: str
    broken: list[tuple[str, int]] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.broken and self.error is None


class _Checker(SignedInBot):
    system_name = "system"


def _page_options(system: str) -> dict[str, dict[str, object]]:
    """Per page, the optional ``check`` (false: not reachable by a path), ``check_path`` (the URL to open
    it by, when its path needs a query, such as ``/occurrence?id=1``) and ``check_note``."""
    data = yaml.safe_load((SELECTORS_DIR / f"{system}.yaml").read_text(encoding="utf-8")) or {}
    return {name: page for name, page in (data.get("pages") or {}).items() if isinstance(page, dict)}


def check_system(settings: Settings, system: str, session: BrowserSession | None = None) -> list[PageCheck]:
    checker = type(f"{system}Checker", (_Checker,), {"system": system, "system_name": system.replace("_", " ")})
    bot = checker(settings, session)
    pages = load(system)
    options = _page_options(system)
    results = []
    with bot.session.item("selectors-check") as page:
        sign_in = pages.get("sign_in")
        if sign_in is not None:
            navigate(page, join_url(bot.base_url, sign_in.path), system=system)
            results.append(PageCheck("sign_in", problems(page, sign_in)))
            try:
                bot._ensure_signed_in()
            except VhubError as error:
                results.append(PageCheck("(signing in)", error=error.message))
                return results
        for name, locators in pages.items():
            if name == "sign_in":
                continue
            option = options.get(name, {})
            target = str(option.get("check_path") or locators.path)
            if option.get("check") is False or not target:
                note = option.get("check_note", "reached only part-way through a journey")
                results.append(PageCheck(name, skipped=str(note)))
                continue
            try:
                PortalPage(page, bot.base_url, locators, system).open_url(join_url(bot.base_url, target))
            except VhubError as error:
                results.append(PageCheck(name, error=error.message))
                continue
            results.append(PageCheck(name, problems(page, locators)))
    return results
