"""config/mou.toml: checked on load with errors that name what to fix; decisions and escalation steps fall due on
the working-day calendar of the Operation Encompass deadlines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from vhub.errors import ConfigurationError
from vhub.models import LONDON
from vhub.mou import MOU_FILE, load_mou, mou_config

AUTHORITIES = ("herefordshire", "shropshire", "telford_wrekin", "worcestershire")


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mou.toml"
    path.write_text(text, encoding="utf-8")
    return path


def shipped_with(tmp_path: Path, old: str, new: str) -> Path:
    text = MOU_FILE.read_text(encoding="utf-8")
    assert old in text
    return written(tmp_path, text.replace(old, new, 1))


def uk(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON).astimezone(UTC)


def test_the_shipped_mou_loads_for_the_four_authorities() -> None:
    """config/mou.toml as shipped: a working day for red, three for amber and green, a route of three roles."""
    mou = mou_config()
    assert ("duty", 1, 3, 3) == (
        mou.channel,
        mou.working_days("shropshire", "red"),
        mou.working_days("shropshire", "amber"),
        mou.working_days("worcestershire", "green"),
    )
    assert ["VHub duty sergeant", "VHub detective inspector"] == [step.police_role for step in mou.escalation[:2]]


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('channel = "duty"', 'channel = "sergeant"', "channel"),
        ('decision_by = "17:00"', 'decision_by = "5pm"', "decision_by"),
        ("red = 1\n", "", "[timescales.default] must give red, amber and green"),
        ("after_working_days = 1\n", "after_working_days = 0\n", "each come later than the last"),
        ("[timescales.shropshire]", "[timescales.shropshire]\nred = -1", "timescales.shropshire.red"),
        ("[timescales.shropshire]", "[timescales.shropshire]\nblue = 1", "timescales.shropshire.blue"),
        ('police_role = "VHub duty sergeant"', 'police_role = ""', "escalation"),
    ],
)
def test_a_mistake_is_refused_with_the_file_and_what_to_fix(tmp_path: Path, old: str, new: str, named: str) -> None:
    """Each kind of mistake stops the load with a message naming the file and the setting."""
    path = shipped_with(tmp_path, old, new)
    with pytest.raises(ConfigurationError) as raised:
        load_mou(path, AUTHORITIES)
    assert str(path) in raised.value.message
    assert named in raised.value.message


def test_timescales_for_an_authority_that_does_not_exist_are_refused(tmp_path: Path) -> None:
    """A misspelt authority would silently get the default: it is refused, with the authorities to choose from."""
    path = shipped_with(tmp_path, "[timescales.shropshire]", "[timescales.shropshir]")
    with pytest.raises(ConfigurationError) as raised:
        load_mou(path, AUTHORITIES)
    assert "shropshir," in raised.value.message and "shropshire" in raised.value.message


def test_an_authority_table_changes_only_the_risks_it_names(tmp_path: Path) -> None:
    """Herefordshire's own amber of 2 days; its red and green, and every other authority, keep the default."""
    mou = load_mou(shipped_with(tmp_path, "[timescales.herefordshire]", "[timescales.herefordshire]\namber = 2"))
    assert (1, 2, 3, 3) == (
        mou.working_days("herefordshire", "red"),
        mou.working_days("herefordshire", "amber"),
        mou.working_days("herefordshire", "green"),
        mou.working_days("shropshire", "amber"),
    )


@pytest.mark.parametrize(
    ("risk", "received", "due"),
    [
        ("red", uk(2026, 3, 9, 19, 30), uk(2026, 3, 10, 17, 0)),  # Monday evening: by the end of Tuesday
        ("red", uk(2026, 3, 13, 10, 0), uk(2026, 3, 16, 17, 0)),  # Friday: the weekend is skipped
        ("red", uk(2026, 3, 14, 10, 0), uk(2026, 3, 16, 17, 0)),  # Saturday: Monday is the first working day
        ("amber", uk(2026, 3, 13, 10, 0), uk(2026, 3, 18, 17, 0)),  # three working days from Friday: Wednesday
        ("red", uk(2026, 12, 24, 9, 0), uk(2026, 12, 29, 17, 0)),  # Christmas, and Boxing Day's Monday, skipped
        ("green", uk(2026, 5, 22, 9, 0), uk(2026, 5, 28, 17, 0)),  # the late May bank holiday skipped
        (None, uk(2026, 5, 22, 9, 0), uk(2026, 5, 28, 17, 0)),  # ungraded: as green
    ],
)
def test_a_decision_falls_due_at_the_end_of_its_last_working_day(risk: str, received: datetime, due: datetime) -> None:
    """Working days skip weekends and England's bank holidays; the decision is due at 17:00 UK time."""
    assert due == mou_config().due("herefordshire", risk, received)


def test_each_escalation_step_falls_due_its_working_days_after_the_decision() -> None:
    """Step 1 when the decision is overdue, step 2 a working day later, step 3 three (over a weekend)."""
    mou = mou_config()
    due = uk(2026, 3, 12, 17, 0)  # a Thursday
    assert [due, uk(2026, 3, 13, 17, 0), uk(2026, 3, 17, 17, 0)] == [mou.step_due(due, step) for step in range(3)]
