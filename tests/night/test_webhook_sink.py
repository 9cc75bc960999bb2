"""The simulated Teams webhook takes only what Teams takes, and lists what it took."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.night.conftest import ServedSink
from vhub.alerts import Alert, card

GOOD = card(Alert("VHub morning report", {"Drafts made": 4}))


def broken(path: list[Any], value: Any) -> dict[str, Any]:
    message = copy.deepcopy(GOOD)
    target: Any = message
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return message


@pytest.mark.parametrize(
    "message",
    [
        {"title": "VHub", "text": "the old, plain-JSON alert"},
        broken(["type"], "AdaptiveCard"),
        broken(["attachments"], []),
        broken(["attachments", 0, "contentType"], "application/json"),
        broken(["attachments", 0, "content", "type"], "MessageCard"),
        broken(["attachments", 0, "content", "body"], []),
        broken(["attachments", 0, "content", "body", 0], {"type": "Paragraph", "text": "x"}),
        broken(["attachments", 0, "content", "body", 1, "facts"], [{"title": "Drafts made", "value": 4}]),
    ],
)
def test_a_post_teams_would_refuse_gets_400_and_is_not_recorded(sink: ServedSink, message: dict[str, Any]) -> None:
    """Anything but a message holding an Adaptive Card (a fact's value not a string, too) is refused as Teams does."""
    response = httpx.post(f"{sink.url}/webhook/admins", json=message, timeout=5)
    assert 400 == response.status_code
    assert [] == sink.received()
    assert 1 == sink.refused()["count"]


def test_a_card_is_taken_recorded_and_listed_by_channel(sink: ServedSink) -> None:
    """A good card gets Teams' answer "1" and is listed under its channel at /_admin/received."""
    response = httpx.post(f"{sink.url}/webhook/duty", json=GOOD, timeout=5)
    assert (200, "1") == (response.status_code, response.text)
    assert [("duty", GOOD)] == [(post["channel"], post["card"]) for post in sink.received()]
    assert [] == sink.received("admins")
    httpx.delete(f"{sink.url}/_admin/received", timeout=5)
    assert [] == sink.received()
