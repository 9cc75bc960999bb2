"""Real simulated systems for the bots' tests: each started as its own process on a free port."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Route

from bots.submission import Submission, SubmissionBot, SubmissionUnconfirmed, submission_key
from vhub.models import LONDON
from vhub.runtime import free_port, wait_for_http
from vhub.settings import PROJECT_ROOT


@contextmanager
def serving(module: str, log: Path, *args: str) -> Iterator[str]:
    """Run ``python -m MODULE --port P ARGS`` until the block ends; yields its base URL once it answers.

    The child gets no VHUB_* settings from this process, so it starts with default faults."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("VHUB_")}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--port", str(port), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{url}/_admin/health", timeout=60)
            yield url
        finally:
            process.terminate()
            process.wait(10)


@contextmanager
def front_doors(folder: Path, authorities: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """The simulated front doors of ``authorities``, each as its own process (default seed and faults), started
    together: authority -> URL. Their logs are in ``folder``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("VHUB_")}
    ports = {authority: free_port() for authority in authorities}
    with ExitStack() as stack:
        for authority, port in ports.items():
            output = stack.enter_context((folder / f"{authority}.log").open("wb"))
            argv = [sys.executable, "-m", "fixtures.referral_portals", authority, "--port", str(port)]
            process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
            stack.callback(process.wait, 10)
            stack.callback(process.terminate)
        urls = {authority: f"http://127.0.0.1:{port}" for authority, port in ports.items()}
        for url in urls.values():
            wait_for_http(f"{url}/_admin/health", timeout=60)
        yield urls


def admin(url: str, method: str, path: str, payload: object = None) -> Any:
    """Call a simulated system's /_admin endpoint and return its JSON."""
    response = httpx.request(method, f"{url}/_admin/{path}", json=payload, timeout=10)
    response.raise_for_status()
    return response.json()


def held(bot: SubmissionBot, key: str) -> list[dict[str, Any]]:
    """What the simulated portal itself holds with this submission key (its /_admin/submissions)."""
    return [item for item in admin(bot.base_url, "GET", "submissions")["submissions"] if item["key"] == key]


def as_the_portal_keeps_it(submission: Submission) -> dict[str, Any]:
    """A referral's payload as the referral portal should hold it: the key in "your reference", the incident's time
    as UK local minutes, and no reviewer-only fields."""
    kept = copy.deepcopy(submission.payload)
    del kept["consent"]["consent_to_confirm"]
    occurred = datetime.fromisoformat(kept["concern"]["occurred_at"]).astimezone(LONDON)
    kept["concern"]["occurred_at"] = f"{occurred:%Y-%m-%dT%H:%M}"
    return {"your_reference": submission.key, **kept}


def check_a_second_delivery_finds_the_first(bot: SubmissionBot, submission: Submission) -> None:
    """Delivering twice sends once: the second delivery finds the first by its key and returns its reference."""
    first = bot.deliver(submission)
    second = bot.deliver(submission)
    assert (first[0], False) == second
    assert [first[0]] == [item["reference"] for item in held(bot, submission.key)]


def check_a_lost_confirmation_is_found_not_sent_again(bot: SubmissionBot, submission: Submission) -> None:
    """The portal keeps the submission but its confirmation fails: SubmissionUnconfirmed; the next delivery finds
    it by its key and sends nothing."""
    admin(bot.base_url, "POST", "faults", {"confirmation_failure_rate": 1.0})
    with pytest.raises(SubmissionUnconfirmed):
        bot.deliver(submission)
    admin(bot.base_url, "POST", "faults", {"confirmation_failure_rate": 0})
    [stored] = held(bot, submission.key)
    assert (stored["reference"], False) == bot.deliver(submission)
    assert 1 == len(held(bot, submission.key))


def check_a_session_ended_before_the_post_still_sends_once(
    bot: SubmissionBot, submission: Submission, post_url: str
) -> None:
    """Every session ends just as the first form is posted to ``post_url`` (a glob): the bot signs in again,
    searches for its key and sends a fresh form, once."""
    expired: list[int] = []

    def expire_first_post(route: Route) -> None:
        if route.request.method == "POST" and not expired:
            expired.append(admin(bot.base_url, "POST", "expire-sessions")["expired"])
        route.continue_()

    bot.session.page.route(post_url, expire_first_post)
    before = admin(bot.base_url, "GET", "stats")["session_expiries"]
    reference, submitted = bot.deliver(submission)
    assert 1 == len(expired)
    assert admin(bot.base_url, "GET", "stats")["session_expiries"] > before
    assert ([reference], True) == ([item["reference"] for item in held(bot, submission.key)], submitted)


def referral_submission(
    draft_id: int, authority: str, recipient: dict[str, Any], payload: dict[str, Any]
) -> Submission:
    """A referral of incident OCC/26/000101 to ``authority``, with its own submission key."""
    return Submission(
        draft_id=draft_id,
        key=submission_key(draft_id, f"referral|OCC/26/000101|{authority}|{draft_id}"),
        workflow="referral",
        recipient=recipient,
        payload=payload,
        text=payload["narrative"],
        source_ref="OCC/26/000101",
    )
