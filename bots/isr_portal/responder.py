"""The ISR response bot: posts an approved response to its Information Sharing Request exactly once.

Exactly once (bots/submission.py): the response form carries the bot's submission key; the request page
lists the responses the portal holds with their keys, and is read for it before responding. The final click
is never retried here: a 5xx or time-out after it is SubmissionUnconfirmed. A bounce to the sign-in page on
that click means the portal refused the post unread, so the bot signs in, reads the request again and only
then writes and sends a fresh form.
"""

from __future__ import annotations

from typing import Any

from bots.isr_portal.pages import RequestPage, ResponseFormPage
from bots.submission import Submission, SubmissionBot
from vhub import redaction
from vhub.logs import get_logger

SYSTEM = "isr_portal"
"""Fresh forms sent after sign-in bounces (each after reading the request again) before the job fails."""

log = get_logger(__name__)


def personal_values(payload: dict[str, Any]) -> list[str]:
    """The named subjects of a response (``vhub.isr.IsrResponse`` as JSON), for the log redactor."""
    found: list[Any] = []
    for finding in payload.get("findings") or []:
        forename, surname, born = finding.get("forename"), finding.get("surname"), finding.get("date_of_birth")
        found += [forename, surname, f"{forename} {surname}", born]
        if isinstance(born, str) and len(born) == 10 and born[4] == "-":
            found.append(f"{born[8:10]}/{born[5:7]}/{born[0:4]}")
    return [value for value in found if isinstance(value, str) and value.strip()]


class IsrResponder(SubmissionBot):
    system = SYSTEM
    system_name = "ISR portal"

    def find_existing(self, submission: Submission) -> str | None:
        with self.session.item(f"find-{submission.key}"):
            return self._search(submission)

    def submit(self, submission: Submission) -> str:
        redaction.remember(personal_values(submission.payload))
        with self.session.item(f"send-{submission.key}"):
            reference = self.send_form(
                lambda: self._prepare(submission),
                button="send",
                result_page="response_result",
                search=lambda: self._search(submission),
                what=f"the response to {submission.source_ref}",
            )
        log.info("response sent", system=SYSTEM, request_id=submission.source_ref, reference=reference)
        return reference

    # ------------------------------------------------------------------ steps
    def _search(self, submission: Submission) -> str | None:
        """The reference of the response the request holds with this key, if any."""
        request_page: RequestPage = self.page_object(RequestPage, "request_responses")

        def read() -> dict[str, Any]:
            request_page.open(submission.source_ref)
            return request_page.read()

        data = self.step(read)
        found = sorted(
            row["partner_reference"] for row in data["groups"]["responses"] if row["submission_key"] == submission.key
        )
        if not found and data["values"]["status"] == "Responded":
            log.info("request already answered by another response", system=SYSTEM, request_id=submission.source_ref)
        return found[0] if found else None

    def _prepare(self, submission: Submission) -> ResponseFormPage:
        page: ResponseFormPage = self.page_object(ResponseFormPage, "response_form")
        page.open(submission.source_ref)
        page.write(submission.text, submission.key)
        return page
