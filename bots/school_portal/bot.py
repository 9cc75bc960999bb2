"""The school portal bot: sends an approved Operation Encompass notice to a school's Designated Safeguarding
Lead (or, for an electively home-educated child, the authority's education team) exactly once, and reads
read receipts.

Exactly once (bots/submission.py): the submission key goes in the notice's "your reference" field; the sent
notices are searched for it before sending. The final click is never retried here: a 5xx or time-out after
it is SubmissionUnconfirmed. A bounce to the sign-in page on that click means the portal refused the post
unread, so the bot signs in, searches for the key again and only then fills and sends a fresh form.
"""

from __future__ import annotations

from typing import Any

from bots.school_portal.notice import NoticeForm, notice_form
from bots.school_portal.pages import FindPage, NoticeFormPage, SentNoticesPage
from bots.submission import PartnerRejected, Submission, SubmissionBot
from vhub import redaction
from vhub.errors import BusinessError
from vhub.logs import get_logger

SYSTEM = "school_portal"
"""Fresh forms sent after sign-in bounces (each after searching for the key) before the job fails."""

log = get_logger(__name__)


class SchoolPortalBot(SubmissionBot):
    system = SYSTEM
    system_name = "school notification portal"

    def find_existing(self, submission: Submission) -> str | None:
        with self.session.item(f"find-{submission.key}"):
            return self._search(submission.key)

    def submit(self, submission: Submission) -> str:
        form = notice_form(submission)
        redaction.remember(form.personal)
        with self.session.item(f"send-{submission.key}"):
            reference = self.send_form(
                lambda: self._prepare(submission, form),
                button="send",
                result_page="notice_result",
                search=lambda: self._search(submission.key),
                what=f"notice {submission.key}",
            )
        log.info("notice sent", system=SYSTEM, reference=reference, form=form.form, key=submission.key)
        return reference

    def read_receipt(self, reference: str) -> str | None:
        """The portal's read receipt of a sent notice ("Read by the DSL on DD/MM/YYYY at HH:MM"), or None
        while it is unread; BusinessError when the portal shows no such notice."""
        with self.session.item(f"receipt-{reference}"):
            listing: SentNoticesPage = self.page_object(SentNoticesPage, "sent_notices")
            rows, _ = self.every_row(listing, lambda: listing.search(reference))
        row = next((row for row in rows if row["reference"] == reference), None)
        if row is None:
            raise BusinessError(f"The {self.system_name} shows no notice {reference}.", code="not_found")
        return row["read"] or None

    # ------------------------------------------------------------------ steps
    def _search(self, key: str) -> str | None:
        listing: SentNoticesPage = self.page_object(SentNoticesPage, "sent_notices")
        rows, _ = self.every_row(listing, lambda: listing.search(key))
        found = sorted(row["reference"] for row in rows if row["sender_reference"] == key)
        if len(found) > 1:
            log.warning("key found on several notices; the first is kept", system=SYSTEM, references=found)
        return found[0] if found else None

    def _recipient_form(self, recipient: dict[str, Any]) -> str:
        """The link to the notice form of the school (by URN) or the education team (by name)."""
        finder: FindPage = self.page_object(FindPage, "find")
        kind, name, urn = recipient.get("kind"), str(recipient.get("name") or ""), recipient.get("urn")
        if kind == "school" and urn:
            rows = [row for row in finder.search(urn=str(urn)) if row["urn"] == str(urn)]
        elif kind == "local_authority_education" and name:
            rows = [row for row in finder.search(name=name) if row["name"].casefold() == name.casefold()]
        else:
            raise BusinessError(
                f"The {self.system_name} takes notices for schools (by URN) and education teams (by name), not a "
                f"{kind or 'recipient'} without them: check the draft's recipient.",
                code="recipient_not_found",
            )
        if len(rows) != 1:
            found = "no match" if not rows else f"{len(rows)} matches"
            raise BusinessError(
                f"The {self.system_name} lists {found} for {name or urn}: check the school directory "
                "(config/schools.csv) against the portal.",
                code="recipient_not_found",
            )
        return str(rows[0]["send_link"])

    def _prepare(self, submission: Submission, form: NoticeForm) -> NoticeFormPage:
        link = self._recipient_form(submission.recipient)
        page: NoticeFormPage = self.page_object(NoticeFormPage, "notice_form")
        page.open_url(link)
        offered, words = page.form_type()
        if form.form == "full" and offered != "full":
            raise PartnerRejected(self.system_name, words)
        page.fill_in(form.texts, form.choices)
        return page
