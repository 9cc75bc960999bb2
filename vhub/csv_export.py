"""Every CSV VHub writes (reports, the audit trail) goes through here, so no cell can run as a formula.

Text read from the records system or typed by a person may start with ``=``, ``+``, ``-`` or ``@`` (or a
tab or carriage return before one); a spreadsheet opening the file would run it as a formula
(``=HYPERLINK(...)``, ``+cmd|...``). Such a cell is written with a leading apostrophe, which spreadsheets
show as text. Numbers are written as numbers, and a lone ``-`` (no value) as it is. A date and time is written
in UK time with its zone, to the second (``01/12/2026 09:05:07 GMT``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from vhub.models import uk_timestamp

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value as it is safe to write: text that a spreadsheet would read as a formula starts with a quote."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return uk_timestamp(value, seconds=True)
    if isinstance(value, str) and len(value) > 1 and value.startswith(FORMULA_STARTS):  # a lone "-" is a dash
        return "'" + value
    return value


def line(values: Iterable[Any]) -> str:
    """One CSV record (with its line ending), every cell made safe: for answers streamed line by line."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell(value) for value in values])
    return buffer.getvalue()


def lines(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header, then one record per row."""
    yield line(header)
    for row in rows:
        yield line(row)


def write(path: Path, header: Sequence[str], rows: Iterable[Iterable[Any]]) -> None:
    """A whole CSV file, UTF-8."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(lines(header, rows))
