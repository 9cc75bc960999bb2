"""Benchmarks: how fast the bots read, against a baseline measured in the same process.

`vhub bench read` starts the simulated records system, signs in once, then reads the same incident
pages several ways, alternating them round by round so drift in the machine's load hits each alike:
the naive way (one browser round trip per field: the baseline), the way the bot reads (one
round trip per page), and the bot's way with each kind of trace it can keep. Ratios are against the
baseline; absolute times depend on the machine.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from playwright.sync_api import BrowserContext, Page, sync_playwright

from bots.locators import PageLocators, extract, load
from fixtures.settings import SimulatorSettings, account
from vhub.browser import launch_options
from vhub.runtime import Child, wait_for_http, wait_for_ports_file
from vhub.settings import Settings
from vhub.simulated.systems import serve_command


@dataclass(frozen=True)
class Result:
    name: str
    ms_per_page: float
    ratio: float


def _read_per_field(page: Page, locators: PageLocators) -> dict[str, Any]:
    """The baseline: one browser round trip per field, as page-object code often does."""
    values = {
        name: page.locator(loc.playwright).first.text_content()
        for name, loc in locators.locators.items()
        if page.locator(loc.playwright).count() == 1
    }
    groups = {}
    for name, group in locators.groups.items():
        rows = page.locator(group.rows.playwright)
        groups[name] = [
            {field: rows.nth(index).locator(loc.playwright).first.text_content() for field, loc in group.fields.items()}
            for index in range(rows.count())
        ]
    return {"values": values, "groups": groups}


def _sign_in(page: Page, base_url: str, settings: Settings) -> None:
    sign_in = load("records_system")["sign_in"]
    page.goto(f"{base_url}{sign_in.path}")
    username, password = account("records_system")
    page.fill(sign_in["username"].playwright, username)
    page.fill(sign_in["password"].playwright, password)
    with page.expect_navigation():
        page.click(sign_in["submit"].playwright)


def bench_read(settings: Settings, *, pages: int = 40, rounds: int = 3, out: TextIO = sys.stdout) -> list[Result]:
    ports_file = settings.run_dir / "bench-fixtures.json"
    server = Child(
        "bench-fixtures",
        serve_command(ports_file, seed=SimulatorSettings().fixtures_seed, incidents=pages),
        env={"PATH": "/usr/bin:/bin", "VHUB_DATA_DIR": str(settings.data_path)},
        log_path=settings.log_dir / "bench-fixtures.out",
    )
    server.start()
    incident = load("records_system")["incident"]
    timings: dict[str, list[float]] = {}
    try:
        base_url = wait_for_ports_file(ports_file, server)["records_system"]
        wait_for_http(f"{base_url}/_admin/health", server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options(settings))
            context = browser.new_context()
            page = context.new_page()
            _sign_in(page, base_url, settings)

            def run(read: Callable[[Page], Any], trace: dict[str, bool] | None, ctx: BrowserContext) -> float:
                if trace is not None:
                    ctx.tracing.start(screenshots=trace["screenshots"], snapshots=trace["snapshots"])
                started = time.perf_counter()
                for system_id in range(1, pages + 1):
                    if trace is not None:
                        ctx.tracing.start_chunk()
                    page.goto(f"{base_url}{incident.path}?id={system_id}", wait_until="domcontentloaded")
                    read(page)
                    if trace is not None:
                        ctx.tracing.stop_chunk()
                elapsed = (time.perf_counter() - started) / pages * 1000
                if trace is not None:
                    ctx.tracing.stop()
                return elapsed

            ways: list[tuple[str, Callable[[Page], Any], dict[str, bool] | None]] = [
                ("one round trip per field (baseline)", lambda p: _read_per_field(p, incident), None),
                ("one round trip per page, no trace", lambda p: extract(p, incident), None),
                (
                    "one round trip per page, plain trace (default)",
                    lambda p: extract(p, incident),
                    {"screenshots": False, "snapshots": False},
                ),
                (
                    "one round trip per page, full trace (snapshots on)",
                    lambda p: extract(p, incident),
                    {"screenshots": True, "snapshots": True},
                ),
            ]
            run(ways[1][1], None, context)  # warm-up: caches, JIT, the server's first renders
            for _ in range(rounds):
                for name, read, trace in ways:
                    timings.setdefault(name, []).append(run(read, trace, context))
            browser.close()
    finally:
        server.signal(15)
        server.wait(10)
        server.close_log()
    baseline = statistics.median(timings[ways[0][0]])
    results = [Result(name, statistics.median(t), statistics.median(t) / baseline) for name, t in timings.items()]
    out.write(f"Reading {pages} incident pages, median of {rounds} rounds (lower is better):\n")
    for result in results:
        out.write(f"  {result.name:<52} {result.ms_per_page:7.1f} ms/page  {result.ratio:5.2f}x baseline\n")
    return results
