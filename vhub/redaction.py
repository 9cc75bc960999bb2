"""Removes personal data from log events before anything is written.

Three nets, applied to every string in an event (its message, values, nested values, exceptions and
their tracebacks): values under sensitive keys are dropped; postcodes, e-mails, phone numbers and bare
dates are masked by pattern; and the values a job has loaded (names, dates of birth, addresses) are
masked wherever they appear, because a name cannot be recognised by its shape. Bots register what they
read with ``remember``; every job registers the people it loads from the store with ``remember_record``.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterable, Mapping
from typing import Any

SENSITIVE_KEYS = frozenset(
    {
        "address",
        "date_of_birth",
        "dob",
        "email",
        "forename",
        "full_name",
        "line1",
        "name",
        "narrative",
        "password",
        "phone",
        "postcode",
        "relationship",
        "school",
        "summary",
        "surname",
        "voice_of_child",
    }
)
REDACTED = "[redacted]"
# Keys whose values name, date or place a person, wherever they sit in a record (``remember_record``).
IDENTIFYING_KEYS = frozenset(
    {
        "alleged_perpetrator",
        "child_name",
        "consent_by",
        "date_of_birth",
        "dob",
        "expected_date_of_birth",
        "forename",
        "full_name",
        "line1",
        "name",
        "officer",
        "other_names",
        "postcode",
        "school",
        "school_or_nursery",
        "surname",
    }
)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # pydantic repeats the offending value in its error text: whatever it was, it goes.
    (re.compile(r"input_value=.*?, input_type="), "input_value=[redacted], input_type="),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"), "[postcode]"),
    (re.compile(r"(?<![\w/])(?:\+44\s?|0)\d(?:[\s-]?\d){8,9}\b"), "[phone]"),
    # Dates that are not followed by a time: a date of birth looks like this; event times do not.
    (re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b(?!\s+\d{1,2}:\d{2})"), "[date]"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b(?![T ]\d{2}:\d{2})"), "[date]"),
)

_remembered: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("vhub_redact", default=frozenset())


def remember(values: Iterable[object]) -> None:
    """Mask these values (a record's names, dates of birth, addresses) in every later event of this job."""
    cleaned = {str(value).strip() for value in values if value is not None and len(str(value).strip()) >= 3}
    _remembered.set(_remembered.get() | frozenset(cleaned))


def remember_record(record: object) -> None:
    """Mask the identifying values found anywhere in a record: an incident, a request or a draft's payload,
    as a pydantic model or plain data. Jobs call it on the people they load, before anything can fail."""
    found: list[str] = []
    _collect(record, found)
    remember(found)


def _collect(value: Any, found: list[str]) -> None:
    if callable(getattr(value, "model_dump", None)):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).lower() in IDENTIFYING_KEYS and isinstance(item, str):
                found.append(item)
                if date := _ISO_DATE.fullmatch(item):  # a date of birth is also written the British way
                    found.append(f"{date[3]}/{date[2]}/{date[1]}")
            else:
                _collect(item, found)
        forename, surname = value.get("forename"), value.get("surname")
        if isinstance(forename, str) and isinstance(surname, str):
            found.append(f"{forename} {surname}")
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def forget() -> None:
    """Clear the remembered values; called when a job ends."""
    _remembered.set(frozenset())


def redact_text(text: str) -> str:
    for value in sorted(_remembered.get(), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "[name]", text, flags=re.IGNORECASE)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, BaseException):  # an exception logged as a value would be rendered with its message
        return redact_text(repr(value))
    if isinstance(value, Mapping):
        return {key: REDACTED if str(key).lower() in SENSITIVE_KEYS else _redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(item) for item in value]
    return value


def redact_event(_logger: object, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: runs after exception formatting and before any renderer."""
    return {key: REDACTED if key.lower() in SENSITIVE_KEYS else _redact(value) for key, value in event_dict.items()}
