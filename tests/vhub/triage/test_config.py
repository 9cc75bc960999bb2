"""Triage configuration: what is refused when it is loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vhub.errors import ConfigurationError
from vhub.settings import PROJECT_ROOT
from vhub.triage.config import load_config


def test_a_postcode_district_claimed_by_two_authorities_is_refused(tmp_path: Path) -> None:
    """Two authorities listing HR1: loading stops and names the district and both authorities."""
    shutil.copytree(PROJECT_ROOT / "config", tmp_path, dirs_exist_ok=True)
    authorities = tmp_path / "authorities.toml"
    text = authorities.read_text(encoding="utf-8")
    key = "postcode_districts = ["
    at = text.index(key, text.index("[authorities.worcestershire]")) + len(key)
    authorities.write_text(text[:at] + '"HR1", ' + text[at:], encoding="utf-8")
    with pytest.raises(ConfigurationError, match="claimed twice: HR1 by herefordshire and worcestershire"):
        load_config(tmp_path)


def test_the_shipped_configuration_loads() -> None:
    """The four authorities of config/ load, each district owned once."""
    assert {"herefordshire", "worcestershire", "shropshire", "telford_wrekin"} == set(load_config().authorities)
