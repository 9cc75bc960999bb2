"""Alerts for the people who run vhub: logged, audited, and posted to a webhook (Teams-style) if one is set.

An alert's text names systems, portals and counts, never personal data.
"""

from __future__ import annotations

import httpx

from vhub.logs import get_logger
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.audit import record_event

log = get_logger(__name__)


def raise_alert(settings: Settings, db: Database, title: str, text: str, *, subject: str) -> bool:
    """Record and send an alert; True if the webhook took it (or none is set)."""
    log.error("alert", title=title, text=text, subject=subject)
    with db.session() as session:
        record_event(
            session,
            actor="vhub",
            action="alert.raised",
            entity_type="alert",
            entity_id=subject,
            after={"title": title, "text": text},
        )
    if not settings.alert_webhook_url:
        return True
    try:
        response = httpx.post(settings.alert_webhook_url, json={"title": title, "text": text}, timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as error:
        log.error("alert not delivered to the webhook", error=type(error).__name__, subject=subject)
        return False
    return True
