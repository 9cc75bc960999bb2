"""Drafting fixtures: the shipped drafting configuration and golden-file comparison.

Rewrite the golden files after an intended change with ``pytest tests/drafting --update-golden`` (the option
is declared in tests/conftest.py, so it also works from the project root).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vhub.drafting import DraftingConfig, load_drafting_config

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture(scope="session")
def config() -> DraftingConfig:
    return load_drafting_config()


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare a draft's text with ``golden/<name>.txt``, or rewrite that file under ``--update-golden``."""
    update = request.config.getoption("--update-golden")

    def check(name: str, actual: str) -> None:
        path = GOLDEN_DIR / f"{name}.txt"
        if update:
            path.write_text(actual, encoding="utf-8")
            return
        assert path.exists(), f"{path.name} is missing: run pytest tests/drafting --update-golden and review it"
        expected = path.read_text(encoding="utf-8")
        assert expected == actual

    return check
