"""The MARAC portal bot: refers an adult victim of domestic abuse to their area's MARAC exactly once.

Exactly once (bots/submission.py): the submission key goes in the referrer's reference field; the force's
referrals are searched for it before referring. The final click is never retried here: a 5xx or time-out
after it is SubmissionUnconfirmed. A bounce to the sign-in page on that click means the portal refused the
post unread, so the bot signs in, searches for the key again and only then fills and sends a fresh form.
"""

from __future__ import annotations

from bots.marac_portal.pages import ReferralFormPage, ReferralsPage
from bots.marac_portal.referral import ReferralForm, referral_form
from bots.submission import Submission, SubmissionBot
from vhub import redaction
from vhub.logs import get_logger

SYSTEM = "marac_portal"
"""Fresh forms sent after sign-in bounces (each after searching for the key) before the job fails."""

log = get_logger(__name__)


class MaracPortalBot(SubmissionBot):
    system = SYSTEM
    system_name = "MARAC portal"

    def find_existing(self, submission: Submission) -> str | None:
        with self.session.item(f"find-{submission.key}"):
            return self._search(submission.key)

    def submit(self, submission: Submission) -> str:
        form = referral_form(submission)
        redaction.remember(form.personal)
        with self.session.item(f"send-{submission.key}"):
            reference = self.send_form(
                lambda: self._prepare(form),
                button="send",
                result_page="referral_result",
                search=lambda: self._search(submission.key),
                what=f"referral {submission.key}",
            )
        log.info("referral sent", system=SYSTEM, reference=reference, key=submission.key)
        return reference

    # ------------------------------------------------------------------ steps
    def _search(self, key: str) -> str | None:
        listing: ReferralsPage = self.page_object(ReferralsPage, "referrals")
        rows, _ = self.every_row(listing, lambda: listing.search(key))
        found = sorted(row["reference"] for row in rows if row["referrer_reference"] == key)
        if len(found) > 1:
            log.warning("key found on several referrals; the first is kept", system=SYSTEM, references=found)
        return found[0] if found else None

    def _prepare(self, form: ReferralForm) -> ReferralFormPage:
        page: ReferralFormPage = self.page_object(ReferralFormPage, "referral_form")
        page.open()
        page.fill_in(form.texts, form.choices, list(form.risk_factors))
        return page
