"""The drafting configuration: the shipped file loads; a wrong one names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vhub.drafting import load_drafting_config
from vhub.drafting.config import DEFAULT_PATH
from vhub.drafting.referral_form import ThresholdLevel
from vhub.errors import ConfigurationError
from vhub.triage.config import load_config
from vhub.triage.model import RiskLevel


def altered(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "drafting.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_shipped_configuration_loads() -> None:
    """config/drafting.toml maps red to child protection, amber and green to targeted, red needs no consent."""
    config = load_drafting_config()
    assert {
        RiskLevel.red: ThresholdLevel.child_protection,
        RiskLevel.amber: ThresholdLevel.targeted,
        RiskLevel.green: ThresholdLevel.targeted,
    } == config.referral.threshold
    assert frozenset({RiskLevel.red}) == config.consent.not_needed_at
    assert config.referrer.secure_email.endswith(".example")


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("vhub.referrals@westmercia.police.example", "vhub.referrals", "referrer.secure_email"),
        ('amber = "level 3 targeted"\n', "", "referral.threshold: has no threshold level for risk amber"),
        ('red = "level 4 child protection"', 'red = "level 5"', "referral.threshold.red"),
        ('    "injury",\n', '    "injuries",\n', "marac.high_harm_questions: names unknown DASH questions: injuries"),
        ('[isr]\nrecords_searched = "West Mercia Police local incident records"\n', "[isr]\n", "isr.records_searched"),
    ],
)
def test_wrong_value_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    """A wrong or missing value raises ConfigurationError naming the file and the key."""
    path = altered(tmp_path, old, new)
    with pytest.raises(ConfigurationError) as caught:
        load_drafting_config(path)
    assert str(path) in caught.value.message
    assert key in caught.value.message


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A configuration file that is not there is reported by path."""
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_drafting_config(tmp_path / "absent.toml")


def test_invalid_toml_is_named(tmp_path: Path) -> None:
    """A file that is not TOML is reported with the parser's line and column."""
    path = tmp_path / "drafting.toml"
    path.write_text("[referrer\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"is not valid TOML: .*line 1"):
        load_drafting_config(path)


def test_triage_figures_come_from_triage_configuration(tmp_path: Path) -> None:
    """The drafting configuration carries config/triage.toml's figures, and refuses a second copy of them."""
    assert load_config().policy == load_drafting_config().triage
    path = altered(tmp_path, "[isr]\n", "[triage]\nmarac_min_victim_age = 16\n\n[isr]\n")
    with pytest.raises(ConfigurationError, match=r"has a \[triage\] section: triage's figures belong in"):
        load_drafting_config(path)
