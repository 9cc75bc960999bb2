"""The shared Jinja environment: UK dates in London time, strict variables, escaping by file type."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader, UndefinedError

from vhub.drafting import environment
from vhub.drafting.environment import uk_date, uk_datetime, uk_time, yes_no

SCRIPT = "<script>alert('x')</script>"


def test_one_environment_per_process() -> None:
    """Every caller gets the same environment, so filters and settings cannot drift apart."""
    assert environment() is environment()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 3, 13, 22, 40, tzinfo=UTC), ("13/03/2026", "13/03/2026 22:40", "22:40")),
        (datetime(2026, 6, 29, 23, 30, tzinfo=UTC), ("30/06/2026", "30/06/2026 00:30", "00:30")),
    ],
)
def test_dates_are_shown_in_london_time(moment: datetime, expected: tuple[str, str, str]) -> None:
    """GMT in winter, BST in summer: 23:30 UTC on 29 June is 00:30 on 30 June in London."""
    assert expected == (uk_date(moment), uk_datetime(moment), uk_time(moment))


def test_plain_dates_are_day_month_year() -> None:
    """A date (a date of birth, say) prints as DD/MM/YYYY."""
    assert "02/05/1991" == uk_date(date(1991, 5, 2))


def test_time_without_zone_is_refused() -> None:
    """A naive datetime cannot be shown as UK time, so it is refused rather than guessed."""
    with pytest.raises(ValueError, match="without a time zone"):
        uk_datetime(datetime(2026, 3, 13, 22, 40))


def test_yes_no_shows_unknown_as_not_recorded() -> None:
    """True, False and None read Yes, No and Not recorded."""
    assert ("Yes", "No", "Not recorded") == (yes_no(True), yes_no(False), yes_no(None))


def test_missing_variable_raises() -> None:
    """A draft rendered without one of its variables fails instead of printing a blank."""
    template = environment().get_template("drafts/encompass_minimised.txt.j2")
    with pytest.raises(UndefinedError):
        template.render(addressee="The Designated Safeguarding Lead, Brookfield Primary School")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("page.html", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\n"),
        ("page.html.j2", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\n"),
        ("feed.xml.j2", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\n"),
        ("note.txt.j2", f"{SCRIPT}\n"),
    ],
)
def test_html_templates_escape_and_text_drafts_do_not(tmp_path: Path, name: str, expected: str) -> None:
    """HTML and XML templates, with or without .j2, escape markup; a .txt.j2 draft keeps text as it is."""
    (tmp_path / name).write_text("{{ value }}\n", encoding="utf-8")
    env = environment().overlay(loader=FileSystemLoader(tmp_path))
    assert expected == env.get_template(name).render(value=SCRIPT)
