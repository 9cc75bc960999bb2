"""Record ids typed into the review app (an address, a form field, a search): a number the store can hold, or none.

The store's ids are ``integer`` columns, 32-bit on PostgreSQL: a larger number names no record, and comparing one
with an id column fails there, so it never reaches a query.
"""

from __future__ import annotations

import re

from starlette.convertors import Convertor

from vhub.store.tables import LARGEST_ID

_DIGITS = re.compile(r"[0-9]{1,20}")


def record_id(value: object, *, smallest: int = 1) -> int | None:
    """``value`` as a record id, ``smallest`` (a version may be 0) to ``LARGEST_ID`` written in ASCII digits, or
    None: anything else names no record."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if smallest <= number <= LARGEST_ID else None


def _up_to(bound: int) -> str:
    """A regex for the decimal numbers 1..bound, written without leading zeros."""
    digits = str(bound)
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    same_length = [
        f"{digits[:at]}[{1 if at == 0 else 0}-{int(digit) - 1}][0-9]{{{len(digits) - at - 1}}}"
        for at, digit in enumerate(digits)
        if int(digit) - 1 >= (1 if at == 0 else 0)
    ]
    return "(?:" + "|".join([*shorter, *same_length, digits]) + ")"


class IdConvertor(Convertor[int]):
    """``{name:id}`` in a route: a record id, 1 to ``LARGEST_ID``. Anything else matches no route, so it is the
    app's ordinary not-found page rather than an overflow in the store."""

    regex = _up_to(LARGEST_ID)

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)
