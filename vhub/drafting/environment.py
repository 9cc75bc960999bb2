"""The project's one Jinja environment, with the UK date filters every template uses.

HTML templates (``.html``, ``.htm``, ``.xml`` and the same with ``.j2``) are escaped; plain-text drafts
(``.txt.j2``) are not. Undefined variables raise. Templates come from files, never from data.
"""

from __future__ import annotations

import functools
from datetime import date, datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vhub.models import LONDON, uk_timestamp
from vhub.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"

_ESCAPED_EXTENSIONS = ("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2")


def _london(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a date and time without a time zone cannot be shown in UK time")
    return value.astimezone(LONDON)


def uk_date(value: date | datetime) -> str:
    """``13/03/2026``; a datetime is first converted to UK time, so a late-evening UTC time keeps its day."""
    if isinstance(value, datetime):
        value = _london(value).date()
    return f"{value:%d/%m/%Y}"


def uk_datetime(value: datetime) -> str:
    """An aware datetime as UK local time: ``13/03/2026 22:40``."""
    return f"{_london(value):%d/%m/%Y %H:%M}"


def uk_time(value: datetime) -> str:
    """An aware datetime's UK local time of day: ``22:40``."""
    return f"{_london(value):%H:%M}"


def yes_no(value: bool | None, unknown: str = "Not recorded") -> str:
    """``Yes``, ``No`` or, for a value nobody recorded, ``unknown``."""
    if value is None:
        return unknown
    return "Yes" if value else "No"


@functools.cache
def environment() -> Environment:
    """The shared environment, loading from ``templates/``; built once per process."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(_ESCAPED_EXTENSIONS, default_for_string=True, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        uk_date=uk_date, uk_datetime=uk_datetime, uk_timestamp=uk_timestamp, uk_time=uk_time, yes_no=yes_no
    )
    return env
