"""Reading a record from a source system: read it, validate it, and keep what fails for a person, once.

Incident ingest and ISR intake share this path. An invalid record becomes one data-quality item per
source system, record id and version; where the source gives no version (the ISR portal), what was read
stands in for it, so an invalid request read again at every scan stays one item and a changed one is new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from vhub.errors import BusinessError, InvalidRecord
from vhub.store.runs import record_invalid
from vhub.store.tables import utcnow
from vhub.triage.blocking import Blocked

Valid = TypeVar("Valid")


@dataclass(frozen=True)
class Invalid:
    """Why a record cannot be used, and what was read of it (empty when nothing could be read)."""

    reasons: list[str]
    raw: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        content = json.dumps({"raw": self.raw, "reasons": self.reasons}, sort_keys=True, default=str)
        return hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


def read_valid(read: Callable[[], dict[str, Any]], validate: Callable[[dict[str, Any]], Valid]) -> Valid | Invalid:
    """The validated record, or what a person must look at: a failed validation (its reasons name the
    fields) or a business error while reading (the record is gone, restricted...)."""
    raw: dict[str, Any] = {}
    try:
        raw = read()
        return validate(raw)
    except InvalidRecord as error:
        return Invalid(error.reasons, raw)
    except BusinessError as error:
        return Invalid([error.message], raw)


def keep_invalid(
    session: Session,
    invalid: Invalid,
    *,
    system: str,
    system_id: int,
    reference: str | None,
    version: datetime | None,
    actor: str,
    blocked: Callable[[dict[str, Any], datetime], Blocked] | None = None,
) -> bool:
    """Keep an invalid record as a data-quality item unless it is already kept; False if it was.

    ``version``: the source's version of the record. None when the source has none: the item is then
    dated when it was first seen and recognised again by what was read. ``blocked``: what the record holds
    up, and by when, from what was read and the version (vhub/triage/blocking.py)."""
    seen = version or utcnow().replace(microsecond=0)
    holds = blocked(invalid.raw, seen) if blocked else None
    return record_invalid(
        session,
        system=system,
        system_id=system_id,
        reference=reference,
        version=seen,
        reasons=invalid.reasons,
        raw=invalid.raw,
        actor=actor,
        fingerprint=None if version else invalid.fingerprint,
        deadline=holds.deadline if holds else None,
        blocks=holds.what if holds else None,
    )
