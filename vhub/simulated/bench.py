"""Benchmarks: how fast the records bot reads incident pages, against the raw-HTTP floor measured in the same run.

`vhub bench read` starts the simulated records system and reads the same incident pages four ways,
alternating them round by round so drift in the machine's load hits each alike: a naive bot (a new
browser per page), the bot reading each page in the browser (one round trip per page), the bot as
it reads now (through the signed-in context's request API, from the HTML), and the floor (httpx with
the same cookies, the same locators over lxml, no browser). Each gives wall time and CPU per page (this
process, the Playwright driver and Chromium; not the server's) and its speed as a multiple of the
floor's and of the naive bot's. Absolute times depend on the machine; the ratios travel better. Last,
the bot reads the pages ten times over by request, and the Playwright driver's memory is shown after
the first pass and the tenth: it should not grow with the number of pages read.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
from playwright.sync_api import Browser, sync_playwright

from bots.locators import extract, extract_html, load
from bots.records_system import RecordsBot
from bots.records_system.parse import parse_incident
from fixtures.settings import SimulatorSettings, account
from vhub import redaction
from vhub.browser import BrowserSession, launch_options
from vhub.runtime import Child, wait_for_http, wait_for_ports_file
from vhub.settings import Settings
from vhub.simulated.systems import serve_command, simulated_system

NAIVE = "naive: a new browser per page"
BROWSER = "the bot, each page in the browser"
REQUEST = "the bot, each page by request (now)"
FLOOR = "floor: httpx + lxml, no browser"
NAIVE_PAGES = 5
"""Pages the naive bot reads a round: each costs a browser launch, so fewer; its figures are per page too."""


@dataclass(frozen=True)
class Result:
    name: str
    ms_per_page: float
    cpu_ms_per_page: float
    speed_vs_floor: float  # the floor's time over this way's: 1.0 is as fast as the floor, 0.5 twice as slow
    speed_vs_naive: float  # the naive bot's time over this way's
    cpu_vs_floor: float


def _cpu_ticks(skip: int | None) -> int:
    """CPU clock ticks used so far by this process and every process under it (the Playwright driver, Chromium,
    and what they have reaped), except the process ``skip`` and those under it (the simulated server)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        # After the command's closing bracket: state, ppid, ... then utime, stime, cutime, cstime (stat's 14-17).
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = sum(int(value) for value in fields[11:15])
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += [child for child in children.get(pid, []) if child != skip]
    return total


def _driver_mib(skip: int | None) -> float:
    """Resident memory of this process's children but ``skip`` (the Playwright driver; Chromium is its child)."""
    total = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(entry.name) != skip:
                status = (entry / "status").read_text()
                if f"\nPPid:\t{os.getpid()}\n" in status:
                    total += int(status.split("VmRSS:", 1)[1].split()[0])
        except (OSError, IndexError):  # ended meanwhile, or a kernel thread without memory
            continue
    return round(total / 1024, 1)


class _Clock:
    """Wall time and CPU of a stretch of work, per page."""

    def __init__(self, skip: int | None) -> None:
        self.skip = skip
        self.tick_ms = 1000 / os.sysconf("SC_CLK_TCK")

    def time(self, work: Callable[[int], Any], ids: list[int]) -> tuple[float, float]:
        cpu, started = _cpu_ticks(self.skip), time.perf_counter()
        for system_id in ids:
            work(system_id)
        wall = (time.perf_counter() - started) * 1000 / len(ids)
        return wall, (_cpu_ticks(self.skip) - cpu) * self.tick_ms / len(ids)


def naive_reader(browser_launcher: Callable[[], Browser], base_url: str) -> Callable[[int], dict[str, Any]]:
    """A bot that launches a browser, signs in, reads one page and closes the browser, for every page."""
    pages = load("records_system")
    sign_in, incident = pages["sign_in"], pages["incident"]
    username, password = account("records_system")

    def read(system_id: int) -> dict[str, Any]:
        browser = browser_launcher()
        try:
            page = browser.new_page()
            page.goto(f"{base_url}{sign_in.path}")
            page.fill(sign_in["username"].playwright, username)
            page.fill(sign_in["password"].playwright, password)
            with page.expect_navigation():
                page.click(sign_in["submit"].playwright)
            page.goto(f"{base_url}{incident.path}?id={system_id}", wait_until="domcontentloaded")
            return parse_incident(extract(page, incident))
        finally:
            browser.close()

    return read


def _floor(client: httpx.Client, base_url: str) -> Callable[[int], dict[str, Any]]:
    """The least a reader can do: GET the page over a kept connection and read it with the same locators."""
    incident = load("records_system")["incident"]

    def read(system_id: int) -> dict[str, Any]:
        response = client.get(f"{base_url}{incident.path}", params={"id": system_id})
        response.raise_for_status()
        return parse_incident(extract_html(response.content, incident, encoding=response.encoding))

    return read


def bench_read(settings: Settings, *, pages: int = 40, rounds: int = 3, out: TextIO = sys.stdout) -> list[Result]:
    ports_file = settings.run_dir / "bench-fixtures.json"
    server = Child(
        "bench-fixtures",
        serve_command(ports_file, seed=SimulatorSettings().fixtures_seed, incidents=pages),
        env={"PATH": "/usr/bin:/bin", "VHUB_DATA_DIR": str(settings.data_path)},
        log_path=settings.log_dir / "bench-fixtures.out",
    )
    server.start()
    timings: dict[str, list[tuple[float, float]]] = {}
    ids = list(range(1, pages + 1))
    naive_ids = ids[:NAIVE_PAGES]
    try:
        base_url = wait_for_ports_file(ports_file, server)["records_system"]
        wait_for_http(f"{base_url}/_admin/health", server)
        bot_settings = settings.model_copy(update={"records_system": simulated_system("records_system", base_url)})
        clock = _Clock(server.pid)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options(settings))
            by_browser = RecordsBot(bot_settings, BrowserSession(bot_settings, "records_system", browser=browser))
            by_browser.read_by_request = False
            by_request = RecordsBot(bot_settings, BrowserSession(bot_settings, "records_system", browser=browser))
            by_request.read_incident(1)  # signs in; its cookies are the floor's
            cookies = {cookie["name"]: cookie["value"] for cookie in by_request.session.cookies()}

            def launch() -> Browser:
                return playwright.chromium.launch(**launch_options(settings))

            with httpx.Client(cookies=cookies, follow_redirects=False, timeout=30) as client:
                ways: list[tuple[str, Callable[[int], Any], list[int]]] = [
                    (NAIVE, naive_reader(launch, base_url), naive_ids),
                    (BROWSER, by_browser.read_incident, ids),
                    (REQUEST, by_request.read_incident, ids),
                    (FLOOR, _floor(client, base_url), ids),
                ]
                for _, read, some in ways[1:]:  # warm-up: sign-in, caches, the first-read check, the server's renders
                    clock.time(read, some)
                for _ in range(rounds):
                    for name, read, some in ways:
                        timings.setdefault(name, []).append(clock.time(read, some))
                        redaction.forget()  # what the bot remembers is a job's; a run of pages is many jobs
                memory = []
                for passes in range(1, 11):
                    clock.time(by_request.read_incident, ids)
                    redaction.forget()
                    if passes in (1, 10):
                        memory.append((passes * pages, _driver_mib(server.pid)))
            by_browser.session.close()
            by_request.session.close()
            browser.close()
    finally:
        server.signal(15)
        server.wait(10)
        server.close_log()
    results = _results(timings)
    _report(results, memory, pages=pages, naive_pages=len(naive_ids), rounds=rounds, out=out)
    return results


def _results(timings: dict[str, list[tuple[float, float]]]) -> list[Result]:
    wall = {name: statistics.median(t[0] for t in runs) for name, runs in timings.items()}
    cpu = {name: statistics.median(t[1] for t in runs) for name, runs in timings.items()}
    return [
        Result(
            name=name,
            ms_per_page=round(wall[name], 2),
            cpu_ms_per_page=round(cpu[name], 2),
            speed_vs_floor=round(wall[FLOOR] / wall[name], 3),
            speed_vs_naive=round(wall[NAIVE] / wall[name], 1),
            cpu_vs_floor=round(cpu[FLOOR] / cpu[name], 3) if cpu[name] else 0.0,
        )
        for name in timings
    ]


def _report(
    results: list[Result], memory: list[tuple[int, float]], *, pages: int, naive_pages: int, rounds: int, out: TextIO
) -> None:
    out.write(
        f"Reading incident pages: {pages} pages ({naive_pages} for the naive bot), median of {rounds} rounds. "
        "Speed is the floor's (or the naive bot's) time over the way's: higher is better.\n\n"
    )
    out.write("| way | ms/page | CPU ms/page | speed vs floor | CPU vs floor | speed vs naive |\n")
    out.write("|---|---:|---:|---:|---:|---:|\n")
    for r in results:
        out.write(
            f"| {r.name} | {r.ms_per_page:.1f} | {r.cpu_ms_per_page:.1f} | {r.speed_vs_floor:.2f}x "
            f"| {r.cpu_vs_floor:.2f}x | {r.speed_vs_naive:.1f}x |\n"
        )
    out.write(
        "\nPlaywright driver, resident memory after reading by request: "
        + ", ".join(f"{mib:.0f} MiB after {reads} pages" for reads, mib in memory)
        + "\n"
    )
    report = {
        "pages": pages,
        "rounds": rounds,
        "results": [asdict(r) for r in results],
        "driver_mib_after_reads": {str(reads): mib for reads, mib in memory},
    }
    out.write("\n" + json.dumps(report) + "\n")
