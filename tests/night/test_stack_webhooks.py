"""The stack and the alert channels: simulated stacks post to the simulated webhook; live ones name what is unset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vhub.cli import _alert_channels
from vhub.errors import ConfigurationError
from vhub.runtime import STATE_FILE, Stack, resolve
from vhub.settings import Settings
from vhub.simulated import Simulators


def test_simulated_mode_refuses_a_real_teams_webhook(tmp_path: Path) -> None:
    """A webhook configured while simulating stops start-up: a rehearsal never posts to a real Teams channel."""
    settings = Settings(data_dir=tmp_path / "var", duty_webhook_url="https://example.invalid/webhook/abc")
    with pytest.raises(ConfigurationError, match="VHUB_DUTY_WEBHOOK_URL") as refused:
        Stack(settings, workers=0, simulators=Simulators(incidents=1)).start()
    assert "mixed_mode" == refused.value.code


def test_commands_beside_a_simulated_stack_post_to_its_webhook(tmp_path: Path) -> None:
    """A command run beside a simulated stack (`vhub alerts test`, `vhub report morning --post`) finds the
    simulated webhook from the stack's state, for both channels."""
    settings = Settings(data_dir=tmp_path / "var")
    settings.ensure_dirs()
    state = {
        "mode": "simulated",
        "redis_url": "redis://127.0.0.1:1/0",
        "systems": {},
        "alert_webhooks": {
            "alert_webhook_url": "http://127.0.0.1:9/webhook/admins",
            "duty_webhook_url": "http://127.0.0.1:9/webhook/duty",
        },
    }
    (settings.run_dir / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
    resolved = resolve(settings)
    expected = ("http://127.0.0.1:9/webhook/admins", "http://127.0.0.1:9/webhook/duty")
    assert expected == (resolved.alert_url("alert_webhook_url"), resolved.alert_url("duty_webhook_url"))
    assert "127.0.0.1:9" not in repr(resolved)  # a webhook URL is a secret: never in printed or logged settings


def test_live_start_up_names_the_unset_channels(tmp_path: Path) -> None:
    """`vhub up` live with no webhooks still starts, and its start-up lines name each unset setting."""
    line = _alert_channels(Settings(data_dir=tmp_path / "var"), simulated=False)
    assert line.startswith("NOT SET: VHUB_ALERT_WEBHOOK_URL, VHUB_DUTY_WEBHOOK_URL")
    both = Settings(data_dir=tmp_path, alert_webhook_url="https://a.invalid/x", duty_webhook_url="https://b.invalid/y")
    assert "admins' and duty sergeant's channels set" == _alert_channels(both, simulated=False)
