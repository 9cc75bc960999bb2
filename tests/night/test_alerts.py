"""Alerts reach their Teams channel as an Adaptive Card the webhook takes, or are logged and audited without one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from structlog.testing import capture_logs

from fixtures.webhook_sink import problem
from tests.night.conftest import ServedSink
from vhub import context
from vhub.alerts import Alert, card, raise_alert, send, unset_channels
from vhub.settings import Settings
from vhub.store.tables import AuditEventRow


def title(post: dict[str, Any]) -> str:
    return str(post["card"]["attachments"][0]["content"]["body"][0]["text"])


def test_the_card_has_the_shape_teams_takes() -> None:
    """A card is a message with one Adaptive Card attachment: a title TextBlock, a FactSet of the counts."""
    message = card(Alert("3 failed jobs", {"Failed jobs": 3, "ingest": 2}, ("See vhub failed list.",)))
    assert problem(message) is None
    content = message["attachments"][0]["content"]
    assert ("AdaptiveCard", "1.4", None) == (
        content["type"],
        content["version"],
        message["attachments"][0]["contentUrl"],
    )
    assert ["TextBlock", "FactSet", "TextBlock"] == [element["type"] for element in content["body"]]
    assert "3 failed jobs" == content["body"][0]["text"]
    assert [{"title": "Failed jobs", "value": "3"}, {"title": "ingest", "value": "2"}] == content["body"][1]["facts"]


def test_each_channel_gets_its_own_alerts(ctx: context.AppContext, sink: ServedSink) -> None:
    """An admins' alert goes to the admins' webhook, a duty alert to the duty sergeant's; both are audited."""
    assert send(ctx.settings, ctx.db, Alert("Portal paused", {"Portal": "school_portal"}), subject="school_portal")
    assert send(ctx.settings, ctx.db, Alert("Deadlines", {"Referral": 2}, channel="duty"), subject="deadlines")
    assert ["Portal paused"] == [title(post) for post in sink.received("admins")]
    assert ["Deadlines"] == [title(post) for post in sink.received("duty")]
    with ctx.db.session() as session:
        events = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "alert.raised")).all()
        assert [("school_portal", "admins", True), ("deadlines", "duty", True)] == [
            (event.entity_id, event.after["channel"], event.after["delivered"]) for event in events
        ]


def test_an_unset_channel_is_logged_and_audited_not_posted(ctx: context.AppContext, sink: ServedSink) -> None:
    """With no duty webhook set, the alert is logged naming the setting, audited as not delivered, and not posted."""
    settings = ctx.settings.model_copy(update={"duty_webhook_url": ""})
    with capture_logs() as logs:
        assert not raise_alert(settings, ctx.db, "Deadlines", "2 referrals", subject="deadlines", channel="duty")
    assert any(entry.get("setting") == "VHUB_DUTY_WEBHOOK_URL" for entry in logs)
    assert [] == sink.received()
    assert ["VHUB_DUTY_WEBHOOK_URL"] == unset_channels(settings)


def test_a_refusing_webhook_is_reported_without_its_url(ctx: context.AppContext, sink: ServedSink) -> None:
    """A webhook answering 4xx makes the alert undelivered; the log names the channel and status, never the URL."""
    settings = ctx.settings.model_copy(update={"alert_webhook_url": f"{sink.url}/no-such-path?sig=secret-token"})
    with capture_logs() as logs:
        assert not send(settings, ctx.db, Alert("Portal paused"), subject="school_portal")
    assert "secret-token" not in repr(logs)
    assert any(entry.get("status") == 404 for entry in logs)


def test_settings_default_to_no_webhook(settings: Settings) -> None:
    """Out of the box both channels are unset (so a live start-up reports them), not pointed anywhere."""
    assert ["VHUB_ALERT_WEBHOOK_URL", "VHUB_DUTY_WEBHOOK_URL"] == unset_channels(settings)
