"""What a failed job's error means, in words an admin woken early can act on: the error's class (or its stable
code, or rq's own words for a worker that stopped) on its last line mapped to one or two plain sentences."""

from __future__ import annotations

import re

# What an error's class or code means, for a person who is not a developer. Looked up by the class name on the
# error's last line, then by its [code]; the first match wins, so specific entries come first.
_PLAIN: tuple[tuple[str, str], ...] = (
    (
        "SubmissionUnconfirmed",
        "The partner's portal may have taken the submission but showed no reference number. Replay it: the bot "
        "searches the portal for it first, so it is never sent twice.",
    ),
    (
        "SessionExpired",
        "The other system kept signing the bot out. Replay it; if it happens again, check the bot's account on "
        "that system has not been locked or had its password changed.",
    ),
    (
        "SystemUnavailable",
        "The other system did not answer, answered too slowly or had a fault of its own; the bot tried again "
        "several times and gave up. Check the system is up (ask its owners if not), then replay the job.",
    ),
    (
        "StoreConflict",
        "Other workers were storing the same records at the same moment, and this job gave way to them each time. "
        "Replay it: nothing is stored twice.",
    ),
    (
        "SelectorDrift",
        "A page of the other system has changed its layout, so the bot could not find what it needed. Its selectors "
        "file must be corrected (runbooks/paused-portal.md; a partner portal stays paused until then), then the "
        "job replayed.",
    ),
    (
        "RefusedJob",
        "The job named something that is not one of vhub's own tasks, so no worker would run it. Someone able to "
        "write to Redis may have put it there: check who can reach it, then discard the job.",
    ),
    (
        "ConfigurationError",
        "A setting or configuration file is wrong. An administrator must fix what the technical line names, "
        "then replay the job.",
    ),
    (
        "PartnerRejected",
        "The partner's portal refused the data. The draft needs a person to correct it; replaying sends the same "
        "data and fails the same way.",
    ),
    (
        "BusinessError",
        "The data itself is wrong or missing, so a person must look at the record; replaying will fail the same way "
        "until it is corrected.",
    ),
    (
        "ApplicationError",
        "Another system misbehaved; the bot tried again and gave up. Replay the job once that system is working.",
    ),
    (
        "JobTimeoutException",
        "The job ran past its time limit, usually because another system was very slow. Replay it; if it keeps "
        "happening, check that system's speed.",
    ),
    (
        "Work-horse terminated|AbandonedJobError|abandoned|stopped by user",
        "The worker running the job stopped part-way (restarted, killed or out of memory). Replay it: every job can "
        "safely run again.",
    ),
    (
        "DeserializationError|not stored as JSON|UnpicklingError",
        "The job was stored in a form vhub does not read (from before jobs were stored as JSON, or not written by "
        "vhub). It cannot run: discard it.",
    ),
    (
        "database is locked|OperationalError",
        "The database was busy or unreachable. Replay the job; if it keeps happening, check the database.",
    ),
    (
        "ConnectionError|TimeoutError|ConnectTimeout|ReadTimeout",
        "A connection to another system failed. Check it is reachable from this machine, then replay the job.",
    ),
)
_UNEXPECTED = (
    "An unexpected error in vhub itself. Replaying may work if it was a one-off; if it fails again, give the "
    "developers the job id and the technical line."
)
_CODES = {
    "system_unavailable": "SystemUnavailable",
    "session_expired": "SessionExpired",
    "store_conflict": "StoreConflict",
    "submission_unconfirmed": "SubmissionUnconfirmed",
    "selector_drift": "SelectorDrift",
    "refused_job": "RefusedJob",
    "configuration_error": "ConfigurationError",
    "partner_rejected": "PartnerRejected",
    "business_error": "BusinessError",
    "invalid_record": "BusinessError",
    "application_error": "ApplicationError",
}


def explain(reason: str) -> str:
    """The plain meaning of an error's last line (``module.Class: [code] message``)."""
    named = reason.split(":", 1)[0].rsplit(".", 1)[-1].strip()
    code = re.search(r"\[([a-z_]+)\]", reason)
    keys = [named, _CODES.get(code.group(1), "") if code else ""]
    for pattern, plain in _PLAIN:
        if any(key and re.fullmatch(pattern, key) for key in keys):
            return plain
    for pattern, plain in _PLAIN:
        if re.search(pattern, reason):
            return plain
    return _UNEXPECTED
