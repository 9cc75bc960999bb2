"""Every bot against its simulated system answering as slowly as real portals do (300 ms a request, log-normal
jitter): one small read or submission each completes, reads what the system holds and sends exactly once."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright
from structlog.testing import capture_logs

from bots.isr_portal import IsrPortalBot, IsrResponder
from bots.marac_portal import MaracPortalBot
from bots.records_system import RecordsBot
from bots.referral_portal import bot_for
from bots.school_portal import SchoolPortalBot
from bots.submission import Submission, SubmissionBot
from fixtures.host import WEBHOOK_SINK
from tests.bots.conftest import admin, as_the_portal_keeps_it, held
from tests.bots.test_isr_responder import _held as responses_held
from tests.bots.test_isr_responder import _response as isr_response
from tests.bots.test_marac_portal_bot import _referral as marac_referral
from tests.bots.test_referral_portal_bot import referral
from tests.bots.test_school_portal_bot import _full_notice
from vhub.browser import BrowserSession, launch_options
from vhub.isr import IsrRequest
from vhub.models import validate_incident
from vhub.runtime import wait_for_http
from vhub.settings import PROJECT_ROOT, Settings
from vhub.simulated import simulated_system
from vhub.simulated.systems import serve_command

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LATENCY = {"VHUB_FIXTURE_FAULTS__LATENCY_MS": "300", "VHUB_FIXTURE_FAULTS__LATENCY_JITTER": "0.5"}
INCIDENTS, REQUESTS = 30, 2  # two pages of the records system's results; one page of requests
REFERRALS = ("herefordshire", "worcestershire", "shropshire", "telford_wrekin")  # shropshire: the framed form


@pytest.fixture(scope="module")
def systems(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Every simulated system from one process (`vhub fixtures serve`), each page answered 300 ms late (log-normal
    jitter); its admin calls are not delayed. Name -> URL."""
    folder = tmp_path_factory.mktemp("slow-systems")
    ports_file = folder / "ports.json"
    env = {name: value for name, value in os.environ.items() if not name.startswith("VHUB_")}
    env.update(LATENCY, VHUB_FIXTURES_ISR_REQUESTS=str(REQUESTS))
    argv = serve_command(ports_file, seed=31, incidents=INCIDENTS)
    with (folder / "server.log").open("wb") as output:
        process = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not ports_file.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert ports_file.exists(), (folder / "server.log").read_text()
            urls = {name: url for name, url in json.loads(ports_file.read_text()).items() if name != WEBHOOK_SINK}
            for url in urls.values():
                wait_for_http(f"{url}/_admin/health", timeout=30)
            assert {float(LATENCY["VHUB_FIXTURE_FAULTS__LATENCY_MS"])} == {
                admin(url, "GET", "faults")["latency_ms"] for url in urls.values()
            }
            yield urls
        finally:
            process.terminate()
            process.wait(10)


@pytest.fixture(scope="module")
def settings(systems: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    external = {name: simulated_system(name, url) for name, url in systems.items()}
    return Settings(
        data_dir=tmp_path_factory.mktemp("slow-bots") / "var",
        records_system=external["records_system"],
        isr_portal=external["isr_portal"],
        portals={
            name: system
            for name, system in external.items()
            if name in ("marac_portal", "school_portal") or name.startswith("referral_")
        },
    )


@contextmanager
def _session(settings: Settings, system: str, browser: Browser) -> Iterator[BrowserSession]:
    """A bot's own browser session for ``system`` on ``browser``, closed when the block ends."""
    session = BrowserSession(settings, system, browser=browser)
    try:
        yield session
    finally:
        session.close()


def _sent_once(bot: SubmissionBot, submission: Submission) -> dict[str, Any]:
    """Deliver ``submission``; it is sent, and the portal holds it once, under the reference the bot read back."""
    reference, submitted = bot.deliver(submission)
    [found] = held(bot, submission.key)
    assert (True, reference) == (submitted, found["reference"])
    return dict(found)


def records_reader(settings: Settings, browser: Browser) -> None:
    """The scan lists every incident over both result pages; one is read by request, one in the browser."""
    with _session(settings, "records_system", browser) as session:
        bot = RecordsBot(settings, session)
        truth = {item["system_id"]: item for item in admin(bot.base_url, "GET", "truth")["incidents"]}
        listed = bot.list_changed_since(None)
        first, second = listed[0].system_id, listed[-1].system_id
        by_request = bot.read_incident(first)
        bot.read_by_request = False
        in_browser = bot.read_incident(second)
    assert sorted(truth) == sorted(item.system_id for item in listed)
    assert [truth[first]["reference"], truth[second]["reference"]] == [
        validate_incident(by_request).reference,
        validate_incident(in_browser).reference,
    ]


def isr_reader(settings: Settings, browser: Browser) -> None:
    """The ISR intake lists the open requests and reads one as the portal holds it."""
    with _session(settings, "isr_portal", browser) as session:
        bot = IsrPortalBot(settings, session)
        truth = admin(bot.base_url, "GET", "truth")["requests"]
        listed = bot.list_open_requests()
        read = bot.read_request(listed[0])
    assert [item["request_id"] for item in truth if item["status"] == "Open"] == listed
    first = next(item for item in truth if item["request_id"] == listed[0])
    assert IsrRequest.model_validate(first["fields"]) == read


def isr_responder(settings: Settings, browser: Browser) -> None:
    """A response lands once on its request, with the reviewed text."""
    with _session(settings, "isr_portal", browser) as session:
        bot = IsrResponder(settings, session)
        submission = isr_response(bot)
        reference, submitted = bot.deliver(submission)
    [found] = responses_held(bot, submission.key)
    assert (True, reference, submission.text) == (
        submitted,
        found["partner_reference"],
        found["response_text"].replace("\r\n", "\n"),
    )


def isr_reader_then_responder(settings: Settings, browser: Browser) -> None:
    isr_reader(settings, browser)
    isr_responder(settings, browser)


def marac_portal(settings: Settings, browser: Browser) -> None:
    """A MARAC referral lands once."""
    with _session(settings, "marac_portal", browser) as session:
        _sent_once(MaracPortalBot(settings, session), marac_referral())


def school_portal(settings: Settings, browser: Browser) -> None:
    """An Operation Encompass notice lands once."""
    with _session(settings, "school_portal", browser) as session:
        _sent_once(SchoolPortalBot(settings, session), _full_notice())


def _referral_portal(authority: str) -> Callable[[Settings, Browser], None]:
    def send(settings: Settings, browser: Browser) -> None:
        """A referral of one child with one household member (the fewest round trips) lands once, every field as
        drafted."""
        submission = referral(authority)
        for many in ("children", "parents_carers_household"):
            del submission.payload[many][1:]
        with _session(settings, f"referral_{authority}", browser) as session:
            found = _sent_once(bot_for(settings, authority, session=session), submission)
        assert as_the_portal_keeps_it(submission) == found["fields"]

    return send


BOTS: dict[str, Callable[[Settings, Browser], None]] = {  # the most round trips first, so the threads end together
    "referral_telford_wrekin": _referral_portal("telford_wrekin"),  # search first, then a wizard
    "referral_herefordshire": _referral_portal("herefordshire"),  # a wizard
    "records_system": records_reader,
    "referral_shropshire": _referral_portal("shropshire"),  # the framed form
    "referral_worcestershire": _referral_portal("worcestershire"),  # one long form
    "school_portal": school_portal,
    "marac_portal": marac_portal,
    "isr_portal": isr_reader_then_responder,  # one after the other: the responder adds a request the reader lists
}
THREADS = 3
"""Bots run three at a time, each thread with its own Chromium (Playwright's sync API keeps to its thread): the
test waits on the systems' latency, not on the processor, so they take about a third of the time together."""


def _run_bots(settings: Settings, work: queue.SimpleQueue[str], failures: dict[str, str]) -> None:
    """Run bots from ``work`` until it is empty, in this thread's own Chromium; each failure kept by bot."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(settings))
        try:
            while True:
                try:
                    name = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    BOTS[name](settings, browser)
                except Exception as error:  # noqa: BLE001 - every bot's failure is reported, not only the first
                    failures[name] = "".join(traceback.format_exception(error))
        finally:
            browser.close()


def test_every_bot_completes_at_real_portal_latency(settings: Settings) -> None:
    """Every bot completes its read or its submission, each step at its first attempt, against a system answering
    every page 300 ms late with jitter: it waits for what it needs (a page, a frame, a confirmation)."""
    work: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in BOTS:
        work.put(name)
    failures: dict[str, str] = {}
    threads = [threading.Thread(target=_run_bots, args=(settings, work, failures), daemon=True) for _ in range(THREADS)]
    with capture_logs() as events:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert {} == failures, "\n".join(failures.values())
    # Slowness is not a fault: a step that had to be tried again waited for the wrong thing.
    assert [] == [event for event in events if event["event"] == "retrying step"]
