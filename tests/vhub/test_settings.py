"""Settings: VHUB_ variables, nested values, derived paths and the browser choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vhub.portals import external_systems
from vhub.settings import ExternalSystem, Settings, display_url


def test_defaults_are_live_with_nothing_guessed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With nothing set: live mode, embedded Redis, SQLite in var/, and no external system has a URL or account."""
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert ("live", "", "Europe/London") == (settings.mode, settings.redis_url, settings.timezone)
    assert f"sqlite:///{tmp_path / 'var' / 'vhub.db'}" == settings.sqlalchemy_url
    for system in external_systems():
        assert ["url", "username", "password"] == settings.external(system).missing()


def test_environment_and_nested_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """VHUB_ variables set values; a double underscore reaches nested ones, portals by name."""
    monkeypatch.setenv("VHUB_MODE", "simulated")
    monkeypatch.setenv("VHUB_REDIS_URL", "redis://example:6379/0")
    monkeypatch.setenv("VHUB_RECORDS_SYSTEM__URL", "https://records.example")
    monkeypatch.setenv("VHUB_PORTALS__MARAC_PORTAL__USERNAME", "force.bot")
    settings = Settings()
    assert "simulated" == settings.mode
    assert "redis://example:6379/0" == settings.redis_url
    assert "https://records.example" == settings.records_system.url
    assert "force.bot" == settings.external("marac_portal").username


def test_unconfigured_names_the_environment_variables() -> None:
    """What a system lacks is named as the variable to set: its own field, or under VHUB_PORTALS__."""
    settings = Settings(records_system=ExternalSystem(url="https://records.example", username="bot"))
    expected = ["VHUB_RECORDS_SYSTEM__PASSWORD", "VHUB_PORTALS__SCHOOL_PORTAL__URL"]
    assert expected == settings.unconfigured(["records_system", "school_portal"])[:2]


def test_the_simulators_knobs_are_not_product_settings() -> None:
    """Seeds, incident counts and injected faults belong to the simulators, not to the product's Settings."""
    assert not [name for name in Settings.model_fields if name.startswith("fixture")]


def test_password_is_not_shown() -> None:
    """Credentials never appear in a printed settings object."""
    secret = "a-password-of-the-force"
    assert secret not in repr(Settings(records_system=ExternalSystem(url="https://r", username="u", password=secret)))


def test_unknown_timezone_is_refused() -> None:
    """A misspelt time zone fails at start-up, naming the setting."""
    with pytest.raises(ValidationError, match="timezone"):
        Settings(timezone="Europe/Londn")


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("bundled", None), ("/opt/chrome/chrome", "/opt/chrome/chrome")],
)
def test_browser_choice(choice: str, expected: str | None) -> None:
    """'bundled' means Playwright's Chromium; a path means that binary."""
    assert expected == Settings(browser_executable=choice).chromium_path


def test_auto_browser_prefers_the_system_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """'auto' picks /usr/bin/chromium when it exists, else Playwright's bundled build."""
    fake = tmp_path / "chromium"
    monkeypatch.setattr("vhub.settings.SYSTEM_CHROMIUM", fake)
    assert None is Settings().chromium_path
    fake.write_text("")
    assert str(fake) == Settings().chromium_path


def test_a_printed_url_hides_its_password() -> None:
    """`vhub up` and `vhub status` print Redis's address with the password masked; one without is unchanged."""
    assert "redis://:***@127.0.0.1:6400/0" == display_url("redis://:s3cret-token@127.0.0.1:6400/0")
    assert "redis://127.0.0.1:6400/0" == display_url("redis://127.0.0.1:6400/0")
