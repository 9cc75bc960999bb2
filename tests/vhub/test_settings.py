"""Settings: VHUB_ variables, nested values, derived paths and the browser choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vhub.settings import ExternalSystem, Settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With nothing set, Redis and the external systems are embedded and SQLite lives in var/."""
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert ("", "", "Europe/London") == (settings.redis_url, settings.records_system.url, settings.timezone)
    assert f"sqlite:///{tmp_path / 'var' / 'vhub.db'}" == settings.sqlalchemy_url


def test_environment_and_nested_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """VHUB_ variables set values; a double underscore reaches nested ones."""
    monkeypatch.setenv("VHUB_REDIS_URL", "redis://example:6379/0")
    monkeypatch.setenv("VHUB_RECORDS_SYSTEM__URL", "https://records.example")
    monkeypatch.setenv("VHUB_FIXTURE_FAULTS__ERROR_RATE", "0.25")
    settings = Settings()
    assert "redis://example:6379/0" == settings.redis_url
    assert "https://records.example" == settings.records_system.url
    assert 0.25 == settings.fixture_faults.error_rate


def test_password_is_not_shown() -> None:
    """Credentials never appear in a printed settings object."""
    assert "synthetic-demo-password" not in repr(Settings())


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


def test_setting_only_a_url_keeps_the_account_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL alone (as `vhub up` hands its workers) keeps each system's own default account."""
    defaults = Settings()
    monkeypatch.setenv("VHUB_ISR_PORTAL__URL", "http://127.0.0.1:9001")
    monkeypatch.setenv("VHUB_RECORDS_SYSTEM__URL", "http://127.0.0.1:9002")
    settings = Settings()
    assert ("http://127.0.0.1:9001", defaults.isr_portal.username) == (
        settings.isr_portal.url,
        settings.isr_portal.username,
    )
    assert "wmp.disclosure" == settings.isr_portal.username
    assert defaults.records_system.username == settings.records_system.username


def test_an_isr_account_given_whole_is_kept() -> None:
    """Settings built in code with an ExternalSystem for the ISR portal keep every value given."""
    settings = Settings(isr_portal=ExternalSystem(url="http://127.0.0.1:9001", username="isr.bot"))
    assert ("http://127.0.0.1:9001", "isr.bot") == (settings.isr_portal.url, settings.isr_portal.username)
