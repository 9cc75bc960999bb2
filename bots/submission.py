"""What every submission bot does, so that an approved draft reaches its partner exactly once.

The submission key is derived from the draft and written into the partner's reference or notes field.
Before submitting, the bot searches the portal for that key: found, it returns the reference the
portal already gave (the earlier attempt got through, even if its confirmation page was lost);
not found, it submits and reads the reference from the confirmation. A confirmation that cannot be
read raises SubmissionUnconfirmed (an application error): the retry searches again before resubmitting.
A portal refusing the data raises PartnerRejected (a business error) with the portal's own message; a draft the
portal's form cannot hold as it stands raises DraftNotSendable, one of them, before anything is sent.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bots.portal import PortalPage, SignedInBot
from vhub import heartbeat
from vhub.errors import ApplicationError, BusinessError, SelectorDrift, SessionExpired, SystemUnavailable
from vhub.logs import get_logger

SEND_ATTEMPTS = 3
"""Fresh forms a send may take when the portal signs the bot out at the final click (searching first)."""

log = get_logger(__name__)


class SubmissionUnconfirmed(ApplicationError):
    """The portal may have taken the submission but showed no reference: search before trying again."""

    code = "submission_unconfirmed"


class PartnerRejected(BusinessError):
    """The partner's portal refused the data; ``partner_message`` is what it said (shown to the reviewer)."""

    code = "partner_rejected"

    def __init__(self, system_name: str, partner_message: str) -> None:
        super().__init__(f"The {system_name} refused the submission: {partner_message}")
        self.partner_message = partner_message


class DraftNotSendable(PartnerRejected):
    """The partner's form cannot take the draft as it stands (a "not known" where it asks only yes or no, more
    children than one of its referrals holds). Nothing was sent; like a refusal, the draft goes back to review with
    the reason, so a person decides instead of the bot guessing."""

    code = "not_sendable_as_drafted"

    def __init__(self, system_name: str, reason: str) -> None:
        super().__init__(system_name, reason)
        self.message = f"The {system_name} cannot take the draft as it stands: {reason}"
        self.args = (self.message,)


def submission_key(draft_id: int, dedupe_key: str) -> str:
    """``VHUB-123-1a2b3c4d``: the draft's id and a digest of what it is, so a key never repeats."""
    digest = hashlib.sha256(f"{draft_id}|{dedupe_key}".encode()).hexdigest()[:8]
    return f"VHUB-{draft_id}-{digest}"


@dataclass(frozen=True)
class Submission:
    """What a bot submits: the approved draft as the review app left it."""

    draft_id: int
    key: str
    workflow: str  # referral, encompass, marac, isr_response
    recipient: dict[str, Any]  # vhub.triage.model.Recipient as JSON: kind, authority, name, urn
    payload: dict[str, Any]  # ReferralForm JSON for referrals; the notice/summary/response fields otherwise
    text: str  # the reviewed text (referral narrative, notice, summary, response)
    source_ref: str  # incident reference or ISR request id
    extra: dict[str, Any] = field(default_factory=dict)


class SubmissionBot(SignedInBot, ABC):
    """Base of the bots that post to partners. Subclasses implement the two steps for their portal."""

    @abstractmethod
    def find_existing(self, submission: Submission) -> str | None:
        """The partner's reference of an earlier submission carrying ``submission.key``, or None."""

    @abstractmethod
    def submit(self, submission: Submission) -> str:
        """Post the submission once and return the partner's reference from the confirmation."""

    def deliver(self, submission: Submission) -> tuple[str, bool]:
        """Exactly once: (reference, True if this call submitted / False if it was already there)."""
        existing = self.find_existing(submission)
        if existing is not None:
            return existing, False
        return self.submit(submission), True

    def send_form(
        self,
        prepare: Callable[[], PortalPage],
        *,
        button: str,
        result_page: str,
        search: Callable[[], str | None],
        what: str,
    ) -> str:
        """Fill a form (a retried step) and post it once. If the portal turned the post away to its sign-in
        page, it did not read it: sign in, search for the key, and only if absent fill a fresh form."""
        for attempt in range(1, SEND_ATTEMPTS + 1):
            page = self.step(prepare)
            try:
                return self._post_once(page, button, result_page, what)
            except SessionExpired:
                if attempt == SEND_ATTEMPTS:
                    raise
                self.session.state["signed_in"] = False
                log.info("session ended on sending; searching before a fresh form", system=self.system)
                found = search()
                if found is not None:
                    return found
        raise SessionExpired(f"The {self.system_name} kept ending the session while sending {what}.")

    def _post_once(self, page: PortalPage, button: str, result_page: str, what: str) -> str:
        """Click send once: the reference from the confirmation, or the portal's refusal in its own words."""
        heartbeat.guard()  # a worker that may have lost this job to another stops here, before sending
        try:
            page.submit(button)
        except SystemUnavailable as error:
            raise SubmissionUnconfirmed(
                f"The {self.system_name} did not confirm {what} ({error.message}); the next attempt searches for "
                "it before sending again."
            ) from None
        values = self.page_object(PortalPage, result_page).read()["values"]
        if values["reference"]:
            return str(values["reference"])
        if values["errors"]:
            raise PartnerRejected(self.system_name, str(values["errors"]))
        if values["message"]:
            raise SubmissionUnconfirmed(
                f"The {self.system_name} answered {what} with a message instead of a confirmation: {values['message']}"
            )
        raise SelectorDrift(self.system, result_page, "reference", 0)
