"""Alerts for the people who run vhub: logged, audited, and posted to a Microsoft Teams channel as an Adaptive Card.

Two channels, each a webhook URL setting: the admins' (VHUB_ALERT_WEBHOOK_URL: paused portals, repeated
failures, the morning report) and the duty sergeant's (VHUB_DUTY_WEBHOOK_URL: deadlines about to be missed,
Operation Encompass notices not approved before school). An alert names systems, portals, schools, counts and
references, never a person: its title, facts and text are the caller's, built from those alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from vhub.logs import get_logger
from vhub.settings import ALERT_CHANNELS, Settings
from vhub.store import Database
from vhub.store.audit import record_event

log = get_logger(__name__)

Channel = Literal["admins", "duty"]
CHANNEL_SETTINGS: dict[Channel, str] = ALERT_CHANNELS  # type: ignore[assignment]  # the same two channels
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"


@dataclass(frozen=True)
class Alert:
    """What one card says: a title, facts (label and value: counts, names of systems or schools, references),
    and optional plain lines below them."""

    title: str
    facts: dict[str, str | int] = field(default_factory=dict)
    lines: tuple[str, ...] = ()
    channel: Channel = "admins"


def webhook_url(settings: Settings, channel: Channel) -> str:
    return settings.alert_url(CHANNEL_SETTINGS[channel])


def env_var(channel: Channel) -> str:
    """The environment variable that sets ``channel``'s webhook URL."""
    return f"VHUB_{CHANNEL_SETTINGS[channel].upper()}"


def unset_channels(settings: Settings) -> list[str]:
    """The channels with no webhook URL, by environment variable (their alerts are only logged and audited)."""
    return [env_var(channel) for channel in CHANNEL_SETTINGS if not webhook_url(settings, channel).strip()]


def card(alert: Alert) -> dict[str, Any]:
    """The message a Teams incoming webhook (or a Workflows webhook) accepts: one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": alert.title, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    if alert.facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": label, "value": str(value)} for label, value in alert.facts.items()],
            }
        )
    body += [{"type": "TextBlock", "text": line, "wrap": True, "spacing": "Small"} for line in alert.lines]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": CARD_TYPE,
                "contentUrl": None,
                "content": {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": CARD_VERSION, "body": body},
            }
        ],
    }


def post(settings: Settings, alert: Alert) -> bool:
    """Post ``alert`` to its channel; True if the channel took it. No URL set: logged, False."""
    url = webhook_url(settings, alert.channel)
    if not url.strip():
        log.warning("alert not posted: no webhook set", channel=alert.channel, setting=env_var(alert.channel))
        return False
    try:
        response = httpx.post(url, json=card(alert), timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as error:
        # The URL holds the webhook's secret: it is never logged, only the channel and what went wrong.
        status = error.response.status_code if isinstance(error, httpx.HTTPStatusError) else None
        log.error(
            "alert not delivered to the webhook", channel=alert.channel, error=type(error).__name__, status=status
        )
        return False
    return True


def send(settings: Settings, db: Database, alert: Alert, *, subject: str) -> bool:
    """Log, audit and post an alert; True if its channel took it. ``subject``: what it is about (a portal name,
    a check and its day), the audit event's entity."""
    log.warning("alert", title=alert.title, channel=alert.channel, subject=subject)
    delivered = post(settings, alert)
    with db.session() as session:
        record_event(
            session,
            actor="vhub",
            action="alert.raised",
            entity_type="alert",
            entity_id=subject,
            after={
                "title": alert.title,
                "facts": {label: str(value) for label, value in alert.facts.items()},
                "lines": list(alert.lines),
                "channel": alert.channel,
                "delivered": delivered,
            },
        )
    return delivered


def raise_alert(
    settings: Settings, db: Database, title: str, text: str, *, subject: str, channel: Channel = "admins"
) -> bool:
    """Record and send a one-line alert; True if its channel took it."""
    return send(settings, db, Alert(title, lines=(text,) if text else (), channel=channel), subject=subject)
