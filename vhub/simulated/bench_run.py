"""`vhub bench run`: whole runs at N incidents, side by side with the floor and a naive bot, in one invocation.

For each N the bench starts the stack as the demo does (its own redis-server, a fresh SQLite store, the
simulated systems holding N synthetic incidents, W workers) and times one run: the scan, every incident read
and stored, then triaged and drafted. Against the same simulated records system, still running, it then
measures the floor (the same result list and incident pages fetched and parsed with httpx and lxml by W
threads at once, no browser, nothing stored) and a naive bot (a new browser per incident, over a sample,
scaled to N at W browsers at once). While the run goes on, each worker's memory (its PSS with the Playwright
driver and Chromium under it) is sampled every two seconds. Last, K drafts to each partner portal are approved
(as the demo's audited auto-approver) and sent, and each portal's drafts per minute are taken from the
store's own times. After every N, the review app's pages are timed once at a backlog of drafts
(`vhub bench review`). The figures are printed as Markdown tables and as one JSON line.

Absolute times depend on the machine and on what else it runs; the ratios of one invocation travel better.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urljoin

import httpx
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select

from bots.locators import extract_html, load
from bots.records_system import RecordsBot
from bots.records_system.parse import parse_incident
from tasks.ingest import start_scan
from tasks.isr import start_isr_scan
from vhub import context, logs
from vhub.browser import BrowserSession, launch_options
from vhub.errors import ConfigurationError
from vhub.portals import portal_for
from vhub.review.decisions import approve
from vhub.runtime import Child, Stack
from vhub.settings import Settings
from vhub.simulated.auto_approve import auto_approver, portal_counts
from vhub.simulated.bench import naive_reader
from vhub.simulated.bench_review import Timing, bench_review
from vhub.simulated.demo import failed_jobs, unfinished_work
from vhub.simulated.systems import Simulators
from vhub.store.incidents import count_incidents
from vhub.store.tables import DraftRow, RunRow, SubmissionRow, TriageResultRow, utcnow

NAIVE_SAMPLE = 8
"""Incidents the naive bot reads: each costs a browser launch and a sign-in; its time per incident is scaled."""
EVERYTHING = "01/01/2000 00:00:00"
"""The records system's search from the beginning: every incident it holds."""
LATENCY_ENV = "VHUB_FIXTURE_FAULTS__LATENCY_MS"


@dataclass
class Sending:
    portal: str
    drafts: int
    sent: int
    per_minute: float  # sent over the time from approval to this portal's last send
    median_send_s: float  # one send job, from its start to the partner's reference
    duplicates: int  # keys the portal itself holds twice


@dataclass
class RunFigures:
    incidents: int
    workers: int
    latency_ms: float
    complete: bool
    unfinished: list[str]
    scan_s: float  # the scan listed every changed incident
    read_s: float  # every listed version read and stored (or kept for a person)
    done_s: float  # every stored incident triaged and drafted, the queues quiet
    stored: int  # incidents in the store (the ISR scan may have stored some itself)
    drafts: int
    floor_s: float  # the same list and pages with httpx + lxml at the same concurrency
    naive_ms_per_incident: float  # the naive bot's time per incident over its sample, one browser
    naive_s: float  # that, for N incidents with W browsers at once
    peak_worker_mib: list[float]  # each worker's highest PSS, its browser included
    end_worker_mib: list[float]  # each worker's PSS when the run was done
    redis_peak_mib: float
    sending: list[Sending] = field(default_factory=list)
    sending_workers_busy: float = math.nan  # share of the W workers' time spent in send jobs while sending

    @property
    def ms_per_incident(self) -> float:
        return self.done_s * 1000 / self.incidents

    @property
    def read_vs_floor(self) -> float:
        """The floor's time over the product's time to read and store every incident: 1.0 is as fast."""
        return self.floor_s / self.read_s if self.read_s else math.nan

    @property
    def vs_naive(self) -> float:
        return self.naive_s / self.read_s if self.read_s else math.nan


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def pss_mib(root: int) -> float:
    """Proportional set size of ``root`` and every process under it: shared pages counted once among their
    sharers, so the workers' figures add up to what they use together."""
    total = 0
    for pid in _process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:  # ended meanwhile
            continue
    return round(total / 1024, 1)


class MemorySampler:
    """Each worker's PSS every ``every`` seconds on a thread, keeping each one's peak."""

    def __init__(self, workers: list[Child], every: float = 2.0) -> None:
        self.pids = [worker.pid for worker in workers if worker.pid is not None]
        self.peak = [0.0 for _ in self.pids]
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self) -> list[float]:
        now = [pss_mib(pid) for pid in self.pids]
        self.peak = [max(high, value) for high, value in zip(self.peak, now, strict=True)]
        return now

    @contextmanager
    def running(self) -> Iterator[MemorySampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def _seconds(start: datetime, end: datetime | None) -> float:
    return round((end - start).total_seconds(), 2) if end else math.nan


def _wait_done(ctx: context.AppContext, run_id: str, deadline: float) -> bool:
    """Until the run is read, every stored incident triaged and no job left, twice in a row (True), or the
    time limit (False)."""
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        time.sleep(1.0)
        with ctx.db.session(read_only=True) as session:
            handed_over = session.get_one(RunRow, run_id).triage_queued_at is not None
        quiet = quiet + 1 if handed_over and not ctx.jobs.in_flight() else 0
    return quiet >= 2


def floor_read(base_url: str, cookies: dict[str, str], workers: int) -> tuple[float, int]:
    """The least a reader can do: the result list page by page, then every incident page by ``workers`` threads,
    each over a kept connection with the bot's cookies, read with the same locators; returns (seconds, pages)."""
    pages = load("records_system")
    search, incident = pages["search"], pages["incident"]
    started = time.perf_counter()
    links: list[str] = []
    with httpx.Client(cookies=cookies, timeout=60) as client:
        url: str | None = f"{base_url}{search.path}?" + str(httpx.QueryParams({"changed_since": EVERYTHING, "page": 1}))
        while url:
            response = client.get(url)
            response.raise_for_status()
            listing = extract_html(response.content, search, encoding=response.encoding)
            links += [row["link"] for row in listing["groups"]["results"]]
            following = listing["values"]["next_page"]
            url = urljoin(url, following) if following else None
    local = threading.local()

    def read(link: str) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(cookies=cookies, timeout=60)
        response = local.client.get(urljoin(base_url + "/", link))
        response.raise_for_status()
        parse_incident(extract_html(response.content, incident, encoding=response.encoding))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(read, links))
    return time.perf_counter() - started, len(links)


def _floor_and_naive(settings: Settings, base_url: str, workers: int) -> tuple[float, float]:
    """The floor's seconds for every incident, and the naive bot's milliseconds an incident (median of its sample)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(settings))
        try:
            bot = RecordsBot(settings, BrowserSession(settings, "records_system", browser=browser))
            bot.read_incident(1)  # signs in; its cookies are the floor's
            cookies = {cookie["name"]: cookie["value"] for cookie in bot.session.cookies()}
            bot.session.close()
        finally:
            browser.close()
        floor_s, _ = floor_read(base_url, cookies, workers)
        naive = naive_reader(lambda: playwright.chromium.launch(**launch_options(settings)), base_url)
        times = []
        for system_id in range(1, NAIVE_SAMPLE + 1):
            started = time.perf_counter()
            naive(system_id)
            times.append((time.perf_counter() - started) * 1000)
    return floor_s, statistics.median(times)


def _send_sample(
    ctx: context.AppContext, urls: dict[str, str], per_portal: int, workers: int, deadline: float
) -> tuple[list[Sending], float]:
    """Approve up to ``per_portal`` drafts for each partner portal (most urgent first), wait until none is left
    to send, and take each portal's rate from the store's own times; also the share of the workers' time the
    send jobs took while they ran (near 1.0: the workers, not the portals, set the pace)."""
    user = auto_approver(ctx)
    chosen: dict[str, list[tuple[int, int]]] = {}
    with ctx.db.session(read_only=True) as session:
        waiting = session.execute(
            select(DraftRow.id, DraftRow.row_version, DraftRow.workflow, DraftRow.recipient)
            .where(DraftRow.status == "awaiting_review")
            .order_by(DraftRow.deadline, DraftRow.id)
        ).all()
    for draft_id, row_version, workflow, recipient in waiting:
        portal = portal_for(workflow, recipient)
        if len(chosen.setdefault(portal, [])) < per_portal:
            chosen[portal].append((draft_id, row_version))
    started = utcnow()
    for drafts in chosen.values():
        for draft_id, row_version in drafts:
            with ctx.db.session() as session:
                approve(session, draft_id, user, row_version, now=started, jobs=ctx.jobs, second_approver_for_red=False)
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        time.sleep(1.0)
        quiet = 0 if ctx.jobs.in_flight() else quiet + 1
    with ctx.db.session(read_only=True) as session:
        rows = session.execute(
            select(SubmissionRow.portal, SubmissionRow.status, SubmissionRow.created_at, SubmissionRow.sent_at)
        ).all()
    duplicates = portal_counts(urls)["duplicates_in_portals"]
    figures, busy_s, last_sent = [], 0.0, started
    for portal, drafts in sorted(chosen.items()):
        sent = [row for row in rows if row.portal == portal and row.status == "sent" and row.sent_at]
        jobs_s = [(row.sent_at - row.created_at).total_seconds() for row in sent]
        busy_s += sum(jobs_s)
        last = max((row.sent_at for row in sent), default=started)
        last_sent = max(last_sent, last)
        span = (last - started).total_seconds()
        figures.append(
            Sending(
                portal=portal,
                drafts=len(drafts),
                sent=len(sent),
                per_minute=round(len(sent) * 60 / span, 1) if span > 0 else 0.0,
                median_send_s=round(statistics.median(jobs_s), 2) if jobs_s else math.nan,
                duplicates=duplicates.get(portal, 0),
            )
        )
    span_all = (last_sent - started).total_seconds()
    return figures, round(busy_s / (span_all * workers), 2) if span_all > 0 else math.nan


def run_once(
    settings: Settings,
    incidents: int,
    *,
    workers: int,
    latency_ms: float,
    send_per_portal: int,
    seed: int,
    time_limit_s: float,
    out: TextIO,
) -> RunFigures:
    """One run of ``incidents`` on a fresh stack in ``settings``' data folder, then the floor, the naive bot
    and the sending sample against the same simulated systems."""
    os.environ[LATENCY_ENV] = str(latency_ms)  # the simulators' child reads it; the bench's own settings do not
    stack = Stack(settings, workers=workers, simulators=Simulators(seed=seed, incidents=incidents))
    with stack:
        ctx = context.configure(stack.resolved())
        ctx.db.migrate()
        deadline = time.monotonic() + time_limit_s
        sampler = MemorySampler([child for child in stack.children if child.name.startswith("worker-")])
        out.write(f"  {incidents:,} incidents: scanning, reading, triage and drafting with {workers} workers...\n")
        out.flush()
        with sampler.running():
            run_id = start_scan(kind="bench")
            start_isr_scan()  # so the ISR portal has responses to send too
            finished = _wait_done(ctx, run_id, deadline)
            end_mib = sampler.sample()
        with ctx.db.session(read_only=True) as session:
            run = session.get_one(RunRow, run_id)
            last_triage = session.scalar(select(func.max(TriageResultRow.triaged_at)))
            last_draft = session.scalar(select(func.max(DraftRow.created_at)))
            unfinished = unfinished_work(
                session,
                run_id,
                jobs_in_flight=ctx.jobs.in_flight(),
                failed_jobs=failed_jobs(ctx),
                time_limit_s=None if finished else time_limit_s,
            )
            stored = count_incidents(session)
            drafts = session.scalar(select(func.count(DraftRow.id))) or 0
        done = max((moment for moment in (last_triage, last_draft, run.triage_queued_at) if moment), default=None)
        redis_peak = ctx.jobs.connection.info("memory")["used_memory_peak"] / 2**20
        out.write("  the floor and the naive bot against the same records system...\n")
        out.flush()
        floor_s, naive_ms = _floor_and_naive(stack.resolved(), stack.records_url, workers)
        figures = RunFigures(
            incidents=incidents,
            workers=workers,
            latency_ms=latency_ms,
            complete=not unfinished,
            unfinished=unfinished,
            scan_s=_seconds(run.started_at, run.scanned_at),
            read_s=_seconds(run.started_at, run.triage_queued_at),
            done_s=_seconds(run.started_at, done),
            stored=stored,
            drafts=drafts,
            floor_s=round(floor_s, 2),
            naive_ms_per_incident=round(naive_ms, 1),
            naive_s=round(naive_ms * incidents / workers / 1000, 1),
            peak_worker_mib=sampler.peak,
            end_worker_mib=end_mib,
            redis_peak_mib=round(redis_peak, 1),
        )
        if send_per_portal and figures.complete:
            out.write(f"  sending {send_per_portal} drafts to each portal...\n")
            out.flush()
            figures.sending, figures.sending_workers_busy = _send_sample(
                ctx, stack.urls, send_per_portal, workers, time.monotonic() + time_limit_s
            )
    return figures


def bench_run(
    settings: Settings,
    *,
    incidents: list[int],
    workers: int = 2,
    latency_ms: float = 0.0,
    send_per_portal: int = 20,
    review_drafts: int = 10_000,
    review_clients: int = 10,
    review_rounds: int = 10,
    seed: int = 2026,
    out: TextIO = sys.stdout,
) -> dict[str, Any]:
    """Every run in ``incidents``, then the review app at ``review_drafts`` (0: not); prints the tables and the
    JSON line, and returns what the JSON holds."""
    if settings.database_url:
        raise ConfigurationError(
            "`vhub bench run` builds its own SQLite store for each run: unset VHUB_DATABASE_URL to run it.",
            code="bench_database",
        )
    if not incidents or min(incidents) < 1 or workers < 1 or latency_ms < 0 or send_per_portal < 0:
        raise ConfigurationError(
            "--incidents takes positive numbers (1000,5000,10000); --workers at least 1; --latency and "
            "--send-per-portal 0 or more.",
            code="bench_arguments",
        )
    logs.configure(settings, process="bench", console=False)
    load = os.getloadavg()[0]
    runs = []
    for count in incidents:
        local = settings.model_copy(
            update={"data_dir": settings.data_path / "bench-run" / f"n{count}", "review_second_approver_for_red": False}
        )
        shutil.rmtree(local.data_path, ignore_errors=True)
        local.ensure_dirs()
        runs.append(
            run_once(
                local,
                count,
                workers=workers,
                latency_ms=latency_ms,
                send_per_portal=send_per_portal,
                seed=seed,
                time_limit_s=600.0 + count * 0.5,
                out=out,
            )
        )
        out.write(run_table(runs[-1:]) + "\n")
        out.flush()
    review: list[Timing] = []
    if review_drafts:
        review = bench_review(settings, drafts=review_drafts, clients=review_clients, rounds=review_rounds, out=out)
    report = {
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        "runs": [{**asdict(run), "ms_per_incident": run.ms_per_incident} for run in runs],
        "review": [
            {
                "page": timing.page,
                "clients": timing.clients,
                "p50_ms": timing.percentile(0.5),
                "p95_ms": timing.percentile(0.95),
                "failed": timing.failed,
                "requests": timing.requests,
            }
            for timing in review
        ],
    }
    out.write("\n" + run_table(runs) + "\n" + memory_table(runs) + "\n" + sending_table(runs) + "\n")
    out.write(json.dumps(_json_safe(report)) + "\n")
    return report


def _json_safe(value: Any) -> Any:
    """``value`` with every NaN (a figure that could not be measured) as null: NaN is not JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def run_table(runs: list[RunFigures]) -> str:
    lines = [
        "| N | workers | latency ms | complete | scan s | read and stored s | triaged and drafted s | ms/incident "
        "| floor s | read vs floor | naive s (est.) | read vs naive |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.incidents:,} | {run.workers} | {run.latency_ms:g} | {'yes' if run.complete else 'NO'} "
            f"| {run.scan_s:.1f} | {run.read_s:.1f} | {run.done_s:.1f} | {run.ms_per_incident:.1f} "
            f"| {run.floor_s:.1f} | {run.read_vs_floor:.2f}x | {run.naive_s:,.0f} | {run.vs_naive:.1f}x |"
        )
    lines += [f"  N={run.incidents:,} did not complete: {'; '.join(run.unfinished)}" for run in runs if run.unfinished]
    return "\n".join(lines) + "\n"


def _figure(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def memory_table(runs: list[RunFigures]) -> str:
    lines = [
        "| N | peak PSS per worker MiB (browser included) | at the end MiB | redis-server peak MiB |",
        "|---:|---|---|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.incidents:,} | {', '.join(f'{mib:.0f}' for mib in run.peak_worker_mib)} "
            f"| {', '.join(f'{mib:.0f}' for mib in run.end_worker_mib)} | {run.redis_peak_mib:.0f} |"
        )
    return "\n".join(lines) + "\n"


def sending_table(runs: list[RunFigures]) -> str:
    lines = [
        "| N | portal | approved | sent | drafts/min | median send s | duplicates at the portal |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for sending in run.sending:
            lines.append(
                f"| {run.incidents:,} | {sending.portal} | {sending.drafts} | {sending.sent} "
                f"| {sending.per_minute:.1f} | {_figure(sending.median_send_s)} | {sending.duplicates} |"
            )
    lines += [
        f"  N={run.incidents:,}: the send jobs kept the workers {run.sending_workers_busy:.0%} busy while they ran"
        for run in runs
        if run.sending and not math.isnan(run.sending_workers_busy)
    ]
    return "\n".join(lines) + "\n"
