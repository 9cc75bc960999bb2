"""The one referral bot: posts an approved MARF to the children's services portal of the child's authority, once.

What differs between portals is data (the route in config/portals.toml, the portal's selectors file). The whole
form is filled as one retried step, since an expired session loses it; the final submit is pressed once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bots.referral_portal.decisions import PortalDecision, read_decision
from bots.referral_portal.fields import Entry, personal_values
from bots.referral_portal.journey import Journey
from bots.referral_portal.pages import FormPage
from bots.referral_portal.route import PortalRoute, check_route, load_route
from bots.submission import DraftNotSendable, PartnerRejected, Submission, SubmissionBot, SubmissionUnconfirmed
from vhub import heartbeat, redaction
from vhub.browser import BrowserSession
from vhub.drafting.referral_form import ReferralForm
from vhub.errors import ApplicationError, BusinessError, ConfigurationError, SessionExpired
from vhub.logs import get_logger
from vhub.portals import PORTALS_FILE
from vhub.settings import Settings
from vhub.triage.config import CONFIG_DIR, load_config

FORM_PASSES = 3
"""Passes through the form when the portal keeps bouncing the final post to its sign-in page."""

log = get_logger(__name__)


def _system_name(authority: str, config_dir: Path) -> str:
    found = load_config(config_dir).authorities.get(authority)
    if found is None:
        raise ConfigurationError(
            f"{config_dir / 'authorities.toml'} has no [authorities.{authority}]: add the authority (its name, "
            "children's services and postcode districts) before its referrals can be sent."
        )
    return f"{found.childrens_services} portal"


class ReferralPortalBot(SubmissionBot):
    """Sends referrals to one authority's portal, as ``route`` and selectors/<route.portal>.yaml describe it; the
    authority itself is in ``config_dir``/authorities.toml."""

    def __init__(
        self,
        settings: Settings,
        route: PortalRoute,
        session: BrowserSession | None = None,
        *,
        config_dir: Path = CONFIG_DIR,
    ) -> None:
        # The base class names its system per class; this one class serves every authority, so per instance.
        self.__dict__.update(system=route.portal, system_name=_system_name(route.authority, config_dir))
        self.route = route
        super().__init__(settings, session)
        check_route(route, self.locators)

    # -- the contract ------------------------------------------------------------------------------------------

    def find_existing(self, submission: Submission) -> str | None:
        self._check_recipient(submission)
        with self.session.item(f"find-{submission.key}"):
            return self._lookup(submission.key)

    def submit(self, submission: Submission) -> str:
        self._check_recipient(submission)
        data = self._form(submission)
        with self.session.item(f"submit-{submission.key}"):
            for _ in range(FORM_PASSES):
                final = self.step(lambda: Journey(self, data, submission.key).fill())
                try:
                    reference = self._send(final)
                except SessionExpired:
                    # The portal sent the final post to sign in: it did not take it. Search before another pass.
                    self.session.state["signed_in"] = False
                    log.info("final post refused for an ended session", system=self.system, key=submission.key)
                    existing = self._lookup(submission.key)
                    if existing is not None:
                        return existing
                    continue
                log.info("referral submitted", system=self.system, key=submission.key, reference=reference)
                return reference
        raise SubmissionUnconfirmed(
            f"The {self.system_name} ended the session at each of {FORM_PASSES} attempts to submit; the referral "
            "was not taken and will be tried again."
        )

    def decision(self, reference: str) -> PortalDecision:
        """Children's services' decision on the portal's referral ``reference``, as its list of referrals sent shows."""
        return read_decision(self, reference)

    # -- steps -------------------------------------------------------------------------------------------------

    def _lookup(self, key: str) -> str | None:
        """The reference of the referral whose "your reference" is ``key``, from the portal's own search."""
        page = self.session.page
        search = FormPage(page, self.base_url, self.locators["referral_search"], self.system_name, route=self.route)

        def look() -> list[dict[str, Any]]:
            search.open()
            search.fill_in([search.planned(Entry("search_text", "text", key), "search_text")])
            search.click("search")
            rows: list[dict[str, Any]] = search.read()["groups"]["results"]
            return rows

        rows = self.step(look)
        found = sorted({str(row["reference"]) for row in rows if str(row.get("your_reference") or "").strip() == key})
        if len(found) > 1:
            log.warning("several referrals carry one submission key", system=self.system, key=key, found=found)
        log.info("searched for the submission key", system=self.system, key=key, found=bool(found))
        return found[0] if found else None

    def _send(self, final: FormPage) -> str:
        """Press the final submit once and read the portal's answer."""
        heartbeat.guard()  # a worker that may have lost this job to another stops here, before sending
        try:
            final.click("submit")
            messages, reference = final.outcome(self.locators["outcome"])
        except SessionExpired:
            raise
        except ApplicationError as error:
            raise SubmissionUnconfirmed(
                f"The {self.system_name} did not confirm the referral ({error.message}); it may have been taken, "
                "so the portal is searched before it is sent again."
            ) from None
        if messages:
            raise PartnerRejected(self.system_name, "; ".join(messages))
        if reference is None:
            raise SubmissionUnconfirmed(
                f"The {self.system_name} showed no reference after the referral was submitted; the portal is "
                "searched before it is sent again."
            )
        return reference

    def _check_recipient(self, submission: Submission) -> None:
        authority = submission.recipient.get("authority")
        if submission.workflow != "referral" or authority != self.route.authority:
            raise ConfigurationError(
                f"Draft {submission.draft_id} ({submission.workflow} to {authority}) was given to the bot of the "
                f"{self.system_name}; choose the bot with bot_for(settings, recipient['authority'])."
            )

    def _form(self, submission: Submission) -> dict[str, Any]:
        """The payload as a validated ReferralForm (JSON); its personal values are remembered for redaction."""
        try:
            form = ReferralForm.model_validate(submission.payload)
        except ValidationError as error:
            reasons = "; ".join(ReferralForm.describe_errors(error).values())
            raise BusinessError(
                f"Draft {submission.draft_id} cannot be sent: its referral form is not valid ({reasons}).",
                code="invalid_payload",
            ) from None
        redaction.remember(personal_values(form))
        most = self.route.children_per_referral
        if most is not None and len(form.children) > most:
            raise DraftNotSendable(
                self.system_name,
                f"its form takes {most} {'child' if most == 1 else 'children'} per referral and the draft lists "
                f"{len(form.children)}; the children need referrals of their own, so it was not sent.",
            )
        return form.model_dump(mode="json")


def bot_for(
    settings: Settings, authority: str | None, *, session: BrowserSession | None = None, config: Path = PORTALS_FILE
) -> ReferralPortalBot:
    """The referral bot for ``authority`` (a key of authorities.toml beside ``config``), from its
    [referral.<authority>] entry in ``config``; ConfigurationError naming the file and the fix when there is none."""
    return ReferralPortalBot(settings, load_route(authority, config), session, config_dir=config.parent)
