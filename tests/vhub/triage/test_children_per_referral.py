"""An authority whose portal takes one child per referral gets one referral per child; the others keep one."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.factories import raw_incident
from vhub.errors import ConfigurationError
from vhub.models import Incident, validate_incident
from vhub.portals import children_per_referral
from vhub.settings import PROJECT_ROOT
from vhub.triage import History, TriageConfig, Workflow, load_config, triage
from vhub.triage.model import Action

CONFIG = load_config()
NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
ONE_AT_A_TIME = CONFIG.model_copy(update={"children_per_referral": {"worcestershire": 1}})


def three_children() -> Incident:
    """The factory incident (Worcester) with a boy of 4 and a girl of 12 too."""
    raw = raw_incident()
    child = raw["people"][2]
    raw["people"] += [
        {**child, "nominal_ref": "N100004", "forename": "Dylan", "date_of_birth": "03/02/2022", "gender": "male"},
        {**child, "nominal_ref": "N100005", "forename": "Erin", "date_of_birth": "05/05/2013"},
    ]
    return validate_incident(raw)


def referrals(config: TriageConfig) -> list[Action]:
    result = triage(three_children(), History(), config, now=NOW)
    return [action for action in result.actions if action.workflow is Workflow.referral]


def with_key(tmp_path: Path, line: str) -> Path:
    """A copy of config/ whose Worcestershire referral entry has ``line`` added."""
    shutil.copytree(PROJECT_ROOT / "config", tmp_path, dirs_exist_ok=True)
    portals = tmp_path / "portals.toml"
    text = portals.read_text(encoding="utf-8")
    changed = text.replace("[referral.worcestershire]\n", f"[referral.worcestershire]\n{line}\n", 1)
    assert changed != text
    portals.write_text(changed, encoding="utf-8")
    return tmp_path


def test_an_authority_without_the_key_gets_all_its_children_in_one_referral() -> None:
    """Today's behaviour: one referral to Worcestershire naming the three children."""
    (referral,) = referrals(CONFIG)
    assert ("children:worcestershire", ("N100003", "N100004", "N100005")) == (referral.subject, referral.subject_refs)


def test_one_child_per_referral_makes_a_referral_for_each_child() -> None:
    """children_per_referral = 1: three referrals, each with its own subject, naming the others as sent apart."""
    split = referrals(ONE_AT_A_TIME)
    assert [
        ("children:worcestershire:N100003", ("N100003",)),
        ("children:worcestershire:N100004", ("N100004",)),
        ("children:worcestershire:N100005", ("N100005",)),
    ] == [(action.subject, action.subject_refs) for action in split]
    assert "Worcestershire takes 1 child per referral: N100004, N100005 referred separately" == split[0].reasons[1]
    assert 1 == len({(action.recipient, action.deadline) for action in split})


def test_two_children_per_referral_makes_batches() -> None:
    """children_per_referral = 2 with three children: a referral of two and one of one."""
    config = CONFIG.model_copy(update={"children_per_referral": {"worcestershire": 2}})
    assert [("N100003", "N100004"), ("N100005",)] == [action.subject_refs for action in referrals(config)]


def test_the_key_is_read_from_the_authoritys_portal_entry(tmp_path: Path) -> None:
    """config/portals.toml's children_per_referral reaches triage for that authority only."""
    folder = with_key(tmp_path, "children_per_referral = 1")
    assert 1 == children_per_referral("worcestershire", folder / "portals.toml")
    assert None is children_per_referral("shropshire", folder / "portals.toml")
    assert {"worcestershire": 1} == load_config(folder).children_per_referral
    assert {} == CONFIG.children_per_referral


@pytest.mark.parametrize("value", ["0", '"one"', "true", "1.5"])
def test_a_wrong_value_is_refused_naming_the_entry(tmp_path: Path, value: str) -> None:
    """Not a whole number of 1 or more: configuration error naming the file, the entry and what it takes."""
    folder = with_key(tmp_path, f"children_per_referral = {value}")
    with pytest.raises(ConfigurationError, match=r"\[referral.worcestershire\] children_per_referral must be a whole"):
        children_per_referral("worcestershire", folder / "portals.toml")
