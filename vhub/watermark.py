"""How far a source system may be considered read.

The watermark may pass an incident version only once it and every version changed before it are
safely handled (stored, already stored, or held as a data-quality item). A version still pending or
failed holds the watermark back, so the next scan (which is inclusive) finds it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import groupby

DONE = frozenset({"stored", "unchanged", "invalid"})


def next_watermark(items: Iterable[tuple[datetime, str]], current: datetime | None) -> datetime | None:
    """The furthest ``last_modified`` up to which every (last_modified, status) item is done.

    Never moves backwards: returns ``current`` when nothing further is complete."""
    candidate = current
    for moment, group in groupby(sorted(items, key=lambda item: item[0]), key=lambda item: item[0]):
        if not all(status in DONE for _, status in group):
            break
        if candidate is None or moment > candidate:
            candidate = moment
    return candidate
