"""Benchmark of the review app with a large backlog: `vhub bench review` seeds N synthetic drafts into a fresh
store, serves the app as `vhub up` does, and times its pages for one reviewer and for several at once.

Drafts are cloned from ones drafted the product's way (triage and templates) for a few simulated incidents, so
each row is as large as a real one and the draft page shows a real incident. Times are measured at the client,
from sending the request to reading the whole answer, beside the server's own CPU time per request (which other
work on the machine inflates far less); absolute figures depend on the machine and on what else it runs.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from fixtures.records_system.generator import generate
from vhub.drafting import load_drafting_config, render_draft
from vhub.errors import ConfigurationError
from vhub.review.accounts import add_user
from vhub.runtime import Stack
from vhub.settings import Settings
from vhub.simulated.systems import Simulators
from vhub.store import Database
from vhub.store.drafts import incident_row, save_triage
from vhub.store.incidents import save_incident
from vhub.store.tables import DataQualityItemRow, DecisionRow, DraftRow, UserRow, utcnow
from vhub.triage import History, load_config, triage

SEED = 20_261_127
SOURCE_INCIDENTS = 60
# Of the drafts not superseded: most wait for a person, as in a backlog; the rest are done with or in between.
STATUSES = (
    ("awaiting_review", 0.80),
    ("returned", 0.03),
    ("approved", 0.03),
    ("sent", 0.09),
    ("rejected", 0.03),
    ("superseded", 0.02),
)
SECOND_APPROVAL = 0.05  # of those awaiting review: approved once, waiting for a second reviewer
NO_DEADLINE = 0.05
DATA_QUALITY_PER_DRAFT = 0.02
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@dataclass
class Timing:
    page: str
    clients: int
    times_ms: list[float] = field(default_factory=list)
    failed: int = 0
    server_cpu_ms: float = math.nan  # the review app's CPU time per request, all of its threads together

    @property
    def requests(self) -> int:
        return len(self.times_ms) + self.failed

    def percentile(self, share: float) -> float:
        """Nearest rank: the time that ``share`` of the answered requests took at most."""
        if not self.times_ms:
            return math.nan
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _templates(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Drafts made the product's way from simulated incidents (stored with their triage), as column values."""
    config, drafting = load_config(), load_drafting_config()
    templates: list[dict[str, Any]] = []
    for record in generate(SEED, SOURCE_INCIDENTS).incidents:
        incident = record.incident
        if incident is None:
            continue
        save_incident(session, incident, source_system="records_system", actor="bench")
        session.flush()
        result = triage(incident, History(), config, now=now)
        row = incident_row(session, incident.reference, incident.last_modified)
        assert row is not None
        save_triage(session, row.id, result)
        for action in result.actions:
            if action.workflow.value == "isr_response":
                continue
            content = render_draft(action, incident, result, drafting)
            templates.append(
                {
                    "workflow": action.workflow.value,
                    "source_ref": incident.reference,
                    "source_version": incident.last_modified,
                    "incident_id": row.id,
                    "subject": action.subject,
                    "title": content.title,
                    "recipient": action.recipient.model_dump(mode="json"),
                    "recipient_name": action.recipient.name,
                    "authority": action.recipient.authority,
                    "policy": action.policy,
                    "risk": result.risk.value,
                    "priority": result.priority.value,
                    "reasons": list(result.reasons[:4]) + list(action.reasons),
                    "payload": content.payload,
                    "text": content.text,
                }
            )
    if not templates:
        raise ConfigurationError("The simulated incidents gave no drafts to clone: the benchmark has nothing to show.")
    return templates


def seed_store(settings: Settings, drafts: int, reviewers: int) -> tuple[list[int], list[tuple[str, str]]]:
    """A migrated store holding ``drafts`` drafts, 2% as many open data-quality items and ``reviewers``
    accounts with random passwords; returns the ids of the drafts awaiting review and the accounts."""
    database = Database(settings)
    database.migrate()
    rng = random.Random(SEED)
    now = utcnow()
    accounts = [(f"bench.reviewer{n}", secrets.token_urlsafe(18)) for n in range(1, reviewers + 1)]
    try:
        with database.session() as session:
            for number, (username, password) in enumerate(accounts, start=1):
                add_user(session, username, password, "reviewer", f"Bench Reviewer {number}", actor="bench")
            templates = _templates(session, now)
            user_ids = list(session.scalars(select(UserRow.id)))
            rows, decided = [], []
            for number in range(1, drafts + 1):
                template = templates[number % len(templates)]
                status = rng.choices([name for name, _ in STATUSES], [share for _, share in STATUSES])[0]
                created = now - timedelta(days=rng.uniform(0, 10))
                deadline = None if rng.random() < NO_DEADLINE else now + timedelta(hours=rng.uniform(-48, 120))
                second = status == "awaiting_review" and rng.random() < SECOND_APPROVAL
                rows.append(
                    {
                        **template,
                        "dedupe_key": f"bench:{number}",
                        "source_ref": f"BENCH/{number:06d}",
                        "status": status,
                        "deadline": deadline,
                        "first_approver": rng.choice(user_ids) if second else None,
                        "created_at": created,
                        "updated_at": created,
                    }
                )
                if status in ("approved", "sent", "rejected", "returned"):
                    decided.append((number, status, created))
            session.execute(insert(DraftRow), rows)
            first_id = session.scalar(select(DraftRow.id).where(DraftRow.dedupe_key == "bench:1"))
            assert first_id is not None
            decisions = [
                {
                    "draft_id": first_id + number - 1,
                    "user_id": rng.choice(user_ids),
                    "decision": "approved" if status in ("approved", "sent") else status,
                    "row_version": 1,
                    "content_version": 1,
                    "at": created + timedelta(hours=rng.uniform(1, 30)),
                }
                for number, status, created in decided
            ]
            if decisions:
                session.execute(insert(DecisionRow), decisions)
            items = [
                {
                    "source_system": "records_system",
                    "system_id": 900_000 + number,
                    "reference": f"BENCH/DQ{number:05d}",
                    "version": now - timedelta(days=rng.uniform(0, 10)),
                    "reasons": [f"people[0].date_of_birth: not a date (synthetic item {number})"],
                    "raw": {"reference": f"BENCH/DQ{number:05d}"},
                    "status": "open",
                }
                for number in range(1, int(drafts * DATA_QUALITY_PER_DRAFT) + 1)
            ]
            if items:
                session.execute(insert(DataQualityItemRow), items)
            waiting = list(session.scalars(select(DraftRow.id).where(DraftRow.status == "awaiting_review").limit(500)))
    finally:
        database.dispose()
    return waiting, accounts


async def _signed_in(base_url: str, username: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base_url, timeout=120, follow_redirects=False)
    form = await client.get("/login")
    match = _CSRF.search(form.text)
    if match is None:
        raise ConfigurationError("The review app's sign-in page has no form token: is it the review app?")
    answer = await client.post(
        "/login", data={"csrf_token": match.group(1), "username": username, "password": password}
    )
    if answer.status_code != 303:
        raise ConfigurationError(f"Signing in as {username} answered {answer.status_code}, not a redirect.")
    return client


def _pages(waiting: list[int], rng: random.Random) -> dict[str, Callable[[], str]]:
    """Each page measured, as a function giving the next address to ask for."""
    return {
        "queue, first page": lambda: "/queue",
        "queue, a filtered later page": lambda: "/queue?authority=worcestershire&page=5",
        "draft page": lambda: f"/drafts/{rng.choice(waiting)}",
        "dashboard": lambda: "/dashboard",
    }


async def _client_run(client: httpx.AsyncClient, address: Callable[[], str], requests: int, into: Timing) -> None:
    for _ in range(requests):
        started = time.perf_counter()
        try:
            answer = await client.get(address())
            await answer.aread()
            ok = answer.status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            into.times_ms.append((time.perf_counter() - started) * 1000)
        else:
            into.failed += 1


def _cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user and system), from /proc; NaN where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(
    base_url: str, server_pid: int, accounts: list[tuple[str, str]], waiting: list[int], rounds: int
) -> list[Timing]:
    """Each page in turn, first for one reviewer, then for all at once; one reviewer alone makes as many requests
    as all of them together, so both rows rest on as many."""
    pages = _pages(waiting, random.Random(SEED))
    clients = [await _signed_in(base_url, username, password) for username, password in accounts]
    results: list[Timing] = []
    try:
        for address in pages.values():  # warm-up: the server's first renders and compiled statements
            await _client_run(clients[0], address, 1, Timing("warm-up", 1))
        for group in sorted({1, len(clients)}):
            for name, address in pages.items():
                timing = Timing(name, group)
                used = _cpu_seconds(server_pid)
                each = rounds * len(clients) // group
                await asyncio.gather(*(_client_run(client, address, each, timing) for client in clients[:group]))
                timing.server_cpu_ms = (_cpu_seconds(server_pid) - used) * 1000 / timing.requests
                results.append(timing)
    finally:
        for client in clients:
            await client.aclose()
    return results


def table(results: list[Timing], drafts: int, load: tuple[float, float]) -> str:
    lines = [
        f"Review app with {drafts:,} drafts: response time at the client; the server's CPU time per request. "
        f"{os.cpu_count()} cores; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end.",
        "",
        "| page | reviewers at once | requests | p50 ms | p95 ms | max ms | failed | server CPU ms/request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        worst = max(result.times_ms) if result.times_ms else math.nan
        lines.append(
            f"| {result.page} | {result.clients} | {result.requests} | {result.percentile(0.5):.0f} "
            f"| {result.percentile(0.95):.0f} | {worst:.0f} | {result.failed} | {result.server_cpu_ms:.1f} |"
        )
    return "\n".join(lines) + "\n"


def bench_review(
    settings: Settings, *, drafts: int = 10_000, clients: int = 10, rounds: int = 10, out: TextIO = sys.stdout
) -> list[Timing]:
    """Seed ``drafts`` drafts into a fresh store in a temporary folder, serve the review app over it and time
    its pages, first for one reviewer, then for ``clients`` at once; print a Markdown table."""
    if settings.database_url:
        raise ConfigurationError(
            "`vhub bench review` builds its own SQLite store: unset VHUB_DATABASE_URL to run it.",
            code="bench_database",
        )
    if drafts < 1 or clients < 1 or rounds < 1:
        raise ConfigurationError("--drafts, --clients and --rounds must each be at least 1.", code="bench_arguments")
    with tempfile.TemporaryDirectory(prefix="vhub-bench-review-") as folder:
        local = settings.model_copy(update={"data_dir": Path(folder), "review_port": 0})
        local.ensure_dirs()
        started = time.monotonic()
        waiting, accounts = seed_store(local, drafts, clients)
        out.write(f"Seeded {drafts:,} drafts in {time.monotonic() - started:.0f} s; starting the review app.\n")
        with Stack(local, workers=0, simulators=Simulators(incidents=10), review=True) as stack:
            server = next(child for child in stack.children if child.name == "review")
            assert server.pid is not None
            load_before = os.getloadavg()[0]
            results = asyncio.run(_measure(stack.review_url, server.pid, accounts, waiting, rounds))
            load_after = os.getloadavg()[0]
    out.write("\n" + table(results, drafts, (load_before, load_after)))
    return results


__all__ = ["Timing", "bench_review", "seed_store", "table"]
