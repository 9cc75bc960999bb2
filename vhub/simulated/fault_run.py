"""`vhub faults run`: a run on the simulated stack, with every draft auto-approved, while faults are injected: each
kind alone, then all together; after it, one `vhub failed replay --all` and `vhub verify`.

The run is a night in phases on one stack (its own redis-server, SQLite store, simulated systems and workers, kept
running by the supervisor as `vhub up` keeps it): each phase brings its own batch of new incidents to the records
system, queues a scan, and injects its fault while the incidents are read, triaged, drafted, approved (as the demo's
audited auto-approver) and sent. A phase ends once its fault is over and no work is left; the time from the one to
the other is its time to recover. At the end every failed job is replayed with the one command an admin would run,
and `vhub verify` checks the invariants. The table gives, for each phase, the times the fault struck, the jobs rq
retried and the jobs replayed, the incidents lost and the submissions duplicated (found by the checks of
vhub/verify.py), and the time to recover. Any loss, duplicate, work left with no job to finish it, or breach found
by `vhub verify` makes the command exit 1.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from redis.exceptions import RedisError
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from fixtures.records_system.generator import generate
from tasks.ingest import start_scan
from tasks.isr import start_isr_scan
from vhub import context, logs
from vhub.errors import ConfigurationError, VhubError
from vhub.failed import list_failed
from vhub.models import parse_uk_datetime
from vhub.queues import SERIALIZER
from vhub.review.decisions import approve
from vhub.runtime import Stack
from vhub.settings import PROJECT_ROOT, Settings
from vhub.simulated.auto_approve import auto_approver, partner_records
from vhub.simulated.faults import (
    CLEAR,
    DatabaseLock,
    Fault,
    Kill,
    LatencySpikes,
    LostConfirmations,
    RecordsDown,
    RedisRestarts,
    Running,
    ServerErrors,
    SessionExpiry,
    WorkerKills,
    set_faults,
)
from vhub.simulated.systems import Simulators
from vhub.store.runs import ListedVersion
from vhub.store.tables import DraftRow, IncidentRow, RunRow, ScanItemRow, SubmissionRow, TriageResultRow, utcnow
from vhub.supervisor import Supervisor
from vhub.verify import held_twice, incidents_accounted_for

SUBMIT = "tasks.submit.submit_draft"
ISR_REQUESTS_ENV = "VHUB_FIXTURES_ISR_REQUESTS"


@dataclass(frozen=True)
class FaultPlan:
    """How big the run is and how hard each fault strikes."""

    incidents: int = 25  # new incidents each phase brings (the kills' phase twice as many)
    workers: int = 2
    seed: int = 2026
    window_s: float = 90.0  # a lasting fault (errors, latency, sessions) is on this long at most; confirmations are
    # lost for this long from the first send
    kills: int = 10
    together_kills: int = 4
    redis_restarts: int = 2
    locks: int = 2
    lock_s: float = 40.0  # longer than the store's 30 s busy time-out: writers fail and are retried
    records_down_s: float = 120.0
    retry_scale: float = 1.0  # the queue policy's retry intervals times this (1: as shipped)
    phase_limit_s: float = 900.0  # a phase still working after this long is reported and the run goes on
    sessions_every_s: float = 5.0  # how often every session is ended while sessions expire
    isr_requests: int = 20  # open requests the ISR portal holds (read in the first phase)

    def phases(self) -> list[tuple[str, Callable[[], list[Fault]]]]:
        """Each fault alone, then all together (each built afresh for its phase)."""
        records_down = f"records system down {self.records_down_s:.0f} s"
        return [
            ("20% 5xx from every system", lambda: [ServerErrors(0.2)]),
            ("latency spikes", lambda: [LatencySpikes()]),
            ("sessions expiring", lambda: [SessionExpiry(self.sessions_every_s)]),
            ("confirmation pages lost", lambda: [LostConfirmations(0.3, self.window_s)]),
            ("workers killed (SIGKILL)", lambda: [WorkerKills(self.kills, seed=self.seed)]),
            ("redis-server killed, restarted from AOF", lambda: [RedisRestarts(self.redis_restarts)]),
            ("database locked (SQLite)", lambda: [DatabaseLock(self.lock_s, self.locks)]),
            (records_down, lambda: [RecordsDown(self.records_down_s)]),
            (
                "all together",
                lambda: [
                    ServerErrors(0.2),
                    LatencySpikes(),
                    SessionExpiry(self.sessions_every_s),
                    LostConfirmations(0.3, self.window_s),
                    WorkerKills(self.together_kills, seed=self.seed + 1),
                    RedisRestarts(1),
                    DatabaseLock(self.lock_s, 1),
                    RecordsDown(self.records_down_s),
                ],
            ),
        ]


FULL = FaultPlan()
REDUCED = FaultPlan(
    incidents=2,
    window_s=4.0,
    sessions_every_s=1.0,
    isr_requests=2,
    kills=2,
    together_kills=1,
    redis_restarts=1,
    locks=1,
    lock_s=3.0,
    records_down_s=4.0,
    retry_scale=0.05,
    phase_limit_s=120.0,
)
"""The run inside `make test`: two incidents a phase, each fault for a few seconds, three kills, retries 20 times
sooner."""


@dataclass
class Row:
    fault: str
    started: datetime
    injected: int = 0
    retried: int = 0
    replayed: int = 0
    lost: int = 0
    duplicated: int = 0
    recover_s: float | None = None  # None: still working at the phase's time limit
    ended: datetime | None = None
    references: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def scaled_policy(scale: float, folder: Path) -> Path:
    """The shipped queue policy with every retry interval times ``scale`` (at least a second), written to
    ``folder``; the shipped file itself when ``scale`` is 1."""
    shipped = PROJECT_ROOT / "queue" / "queues.toml"
    if scale == 1:
        return shipped

    def scaled(found: re.Match[str]) -> str:
        values = [max(1, round(int(value) * scale)) for value in re.findall(r"\d+", found.group(2))]
        return f"{found.group(1)}[{', '.join(map(str, values))}]"

    text = re.sub(r"(retry_intervals_s\s*=\s*)\[([^\]]*)\]", scaled, shipped.read_text(encoding="utf-8"))
    path = folder / "queues-faults.toml"
    path.write_text(text, encoding="utf-8")
    return path


def retries_used(connection: Any) -> int:
    """Retries rq has spent on every job it still holds (a retried job keeps fewer ``retries_left``)."""
    total = 0
    keys = [key for key in connection.scan_iter(match="rq:job:*", count=1000, _type="hash")]
    with connection.pipeline() as pipeline:
        for key in keys:
            pipeline.hmget(key, "retries_left", "retry_intervals")
        for left, intervals in pipeline.execute():
            if left is not None and intervals is not None:
                total += max(0, len(json.loads(intervals)) - int(left))
    return total


class FaultRun:
    """The stack under fault, the phases run on it one after another, and what each left."""

    def __init__(self, stack: Stack, ctx: context.AppContext, plan: FaultPlan, out: TextIO) -> None:
        self.stack = stack
        self.ctx = ctx
        self.plan = plan
        self.out = out
        self.lock = threading.RLock()
        self.rows: list[Row] = []
        self.kills: list[Kill] = []
        self.errors: list[str] = []
        self.stack_stopped: str | None = None
        self._approved: set[tuple[int, int]] = set()
        self._halt = threading.Event()
        self._calls: queue.Queue[tuple[Callable[[], None], threading.Event, list[BaseException]]] = queue.Queue()
        self._user = auto_approver(ctx)

    # --------------------------------------------------------------- what the faults act on
    def systems(self) -> dict[str, str]:
        return dict(self.stack.urls)

    def work_flowing(self) -> bool:
        return self.ctx.jobs.in_flight() > 0

    def sending(self) -> bool:
        submit = self.ctx.jobs.queue("submit")
        return submit.count + StartedJobRegistry(queue=submit).count > 0

    # --------------------------------------------------------------- supervision
    def in_keeper(self, action: Callable[[], None]) -> None:
        done = threading.Event()
        failure: list[BaseException] = []
        self._calls.put((action, done, failure))
        done.wait()
        if failure:
            raise failure[0]

    def supervise(self) -> threading.Thread:
        """The supervisor of `vhub up`, looking once a second, on the thread that also runs ``in_keeper``'s
        actions (a Redis restart there is not taken for a stop)."""
        supervisor = Supervisor(self.stack)

        def loop() -> None:
            while not self._halt.is_set():
                try:
                    action, done, failure = self._calls.get(timeout=1.0)
                except queue.Empty:
                    pass
                else:
                    try:
                        with self.lock:
                            action()
                    except Exception as error:  # noqa: BLE001 - given to the fault that asked
                        failure.append(error)
                    done.set()
                with self.lock:
                    reason = supervisor.check()
                if reason:
                    self.stack_stopped = reason
                    return

        thread = threading.Thread(target=loop, name="supervisor", daemon=True)
        thread.start()
        return thread

    def halt(self) -> None:
        self._halt.set()

    # --------------------------------------------------------------- a phase
    def phase(self, number: int, name: str, faults: list[Fault]) -> Row:
        row = Row(name, started=utcnow())
        row.references = self._feed(number)
        retried_before = self._retries()
        run_id = start_scan(kind="faults")
        if number == 0:
            start_isr_scan()
        self.out.write(f"  {name}: {len(row.references)} new incidents...\n")
        self.out.flush()
        running = Running(faults).start(self)
        begun = time.monotonic()
        cleared: float | None = None
        quiet = 0
        while True:
            self._approve_waiting()
            idle = self._idle()
            now = time.monotonic()
            if idle or now - begun >= self.plan.window_s:
                running.stop.set()  # a lasting fault ends with its window, or once there is nothing left to hit
            if idle:
                running.idle.set()
            if cleared is None and running.over():
                cleared = now
            quiet = quiet + 1 if idle and cleared is not None else 0
            if quiet >= 2:
                row.recover_s = round(max(0.0, now - cleared - 1.0), 1) if cleared is not None else None
                break
            if self.stack_stopped or now - begun > self.plan.phase_limit_s:
                row.notes.append(f"still working {self.plan.phase_limit_s:.0f} s after the phase began")
                break
            time.sleep(1.0)
        running.finish()
        self._clear_faults()
        recovered = f"recovered {row.recover_s:.0f} s after the fault" if row.recover_s is not None else "NOT recovered"
        self.out.write(f"    {recovered}; the phase took {time.monotonic() - begun:.0f} s\n")
        self.out.flush()
        self.errors += running.errors
        row.injected = sum(fault.injected for fault in faults)
        for fault in faults:
            row.notes += fault.notes
            if isinstance(fault, WorkerKills):
                self.kills += fault.kills
                row.notes.append(_kill_note(fault))
                if fault.missed:
                    missed = ", ".join(f"{name} {count}" for name, count in sorted(fault.missed.items()))
                    row.notes.append(f"looks for a worker to kill that failed: {missed}")
        row.retried = self._retries() - retried_before
        row.ended = utcnow()
        with self.ctx.db.session(read_only=True) as session:
            run = session.get(RunRow, run_id)
            if run is None or run.scanned_at is None:
                row.notes.append("its scan had not listed the incidents when the phase ended")
        self.rows.append(row)
        return row

    def _feed(self, number: int) -> set[str]:
        """The phase's new incidents: the records system's first batch, then a fresh batch a phase (a different
        seed each, numbered and dated by the records system as it takes them)."""
        url = self.stack.records_url
        if number == 0:
            truth = httpx.get(f"{url}/_admin/truth", timeout=60).json()
            return {item["reference"] for item in truth["incidents"]}
        count = self.plan.incidents * (2 if self._is_kills(number) else 1)
        batch = generate(self.plan.seed + number, count, utcnow())
        raw = [
            {
                name: value
                for name, value in record.fields.items()
                if name not in ("system_id", "reference", "last_modified")
            }
            for record in batch.incidents
        ]
        response = httpx.post(f"{url}/_admin/incidents", json=raw, timeout=60)
        response.raise_for_status()
        return {item["reference"] for item in response.json()["added"]}

    def _is_kills(self, number: int) -> bool:
        return self.plan.phases()[number][0].startswith("workers killed")

    def _retries(self) -> int:
        for _ in range(30):
            try:
                return retries_used(self.ctx.jobs.connection)
            except RedisError:
                time.sleep(1.0)
        return 0

    def _clear_faults(self) -> None:
        set_faults(self.systems(), **CLEAR)

    def _approve_waiting(self) -> None:
        """Approve, once each, every draft version waiting for review, as the demo's auto-approver."""
        try:
            with self.ctx.db.session(read_only=True) as session:
                waiting = session.execute(
                    select(DraftRow.id, DraftRow.row_version, DraftRow.content_version)
                    .where(DraftRow.status == "awaiting_review")
                    .order_by(DraftRow.deadline, DraftRow.id)
                ).all()
            for draft_id, row_version, content_version in waiting:
                if (draft_id, content_version) in self._approved:
                    continue
                with self.ctx.db.session() as session:
                    approve(
                        session,
                        draft_id,
                        self._user,
                        row_version,
                        now=utcnow(),
                        jobs=self.ctx.jobs,
                        second_approver_for_red=False,
                    )
                self._approved.add((draft_id, content_version))
        except (RedisError, SQLAlchemyError, VhubError):
            return  # Redis restarting or the store locked: the next look tries again

    def _idle(self) -> bool:
        """No job queued, running, scheduled or held back, and no draft version waiting for its approval."""
        try:
            if self.ctx.jobs.in_flight():
                return False
            with self.ctx.db.session(read_only=True) as session:
                waiting = session.execute(
                    select(DraftRow.id, DraftRow.content_version).where(DraftRow.status == "awaiting_review")
                ).all()
        except (RedisError, SQLAlchemyError):
            return False
        return all((draft_id, version) in self._approved for draft_id, version in waiting)

    # --------------------------------------------------------------- after the phases
    def replay_all(self) -> tuple[int, str]:
        """The one replay command an admin runs, then until no work is left; each replayed job counted to the
        phase it failed in."""
        failed = list_failed(self.ctx.jobs)
        for job in failed:
            row = self._row_at(job.failed_at)
            if row is not None:
                row.replayed += 1
        result = self.cli("failed", "replay", "--all")
        deadline = time.monotonic() + self.plan.phase_limit_s
        quiet = 0
        while quiet < 2 and time.monotonic() < deadline:
            self._approve_waiting()
            quiet = quiet + 1 if self._idle() else 0
            time.sleep(1.0)
        return result.returncode, result.stdout + result.stderr

    def _row_at(self, moment: datetime | None) -> Row | None:
        rows = [row for row in self.rows if moment is None or row.started <= moment]
        return rows[-1] if rows else (self.rows[0] if self.rows else None)

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "VHUB_DATA_DIR": str(self.stack.settings.data_path),
            "VHUB_REVIEW_SECOND_APPROVER_FOR_RED": "false",
            "VHUB_QUEUE_CONFIG": str(self.stack.settings.queue_config),
        }
        return subprocess.run(  # noqa: S603 - this interpreter, vhub's own command
            [sys.executable, "-m", "vhub", *argv], capture_output=True, text=True, env=env, timeout=600, check=False
        )

    def count_losses(self) -> None:
        """Each phase's incidents not accounted for, and its submissions a partner holds twice, by vhub/verify.py's
        own checks."""
        truth = httpx.get(f"{self.stack.records_url}/_admin/truth", timeout=60).json()["incidents"]
        failed_ids = {job.id for job in list_failed(self.ctx.jobs)}
        twice = held_twice(partner_records(self.systems()))
        with self.ctx.db.session(read_only=True) as session:
            source_of = dict(
                session.execute(
                    select(SubmissionRow.key, DraftRow.source_ref).join(DraftRow, DraftRow.id == SubmissionRow.draft_id)
                ).all()
            )
            for number, row in enumerate(self.rows):
                listed = [
                    ListedVersion(
                        item["system_id"], item["reference"], parse_uk_datetime(item["fields"]["last_modified"])
                    )
                    for item in truth
                    if item["reference"] in row.references
                ]
                row.lost = len(incidents_accounted_for(session, listed, failed_ids).breaches)
                row.duplicated = sum(
                    count - 1
                    for keys in twice.values()
                    for key, count in keys.items()
                    if source_of.get(key) in row.references or (number == 0 and source_of.get(key) is None)
                )

    def unfinished(self) -> list[str]:
        """Work left with no job to finish it (lost in all but name), and failed jobs still waiting."""
        connection = self.ctx.jobs.connection
        failed_drafts = set()
        waiting = 0
        for rq_queue in self.ctx.jobs.queues():
            for job_id in FailedJobRegistry(queue=rq_queue).get_job_ids():
                waiting += 1
                job = Job.fetch(job_id, connection=connection, serializer=SERIALIZER)
                if job.func_name == SUBMIT:
                    failed_drafts.add(int(job.args[0]))
        problems = []
        with self.ctx.db.session(read_only=True) as session:
            pending = session.scalar(select(func.count(ScanItemRow.id)).where(ScanItemRow.status == "pending")) or 0
            untriaged = (
                session.scalar(
                    select(func.count(IncidentRow.id)).where(
                        IncidentRow.is_latest.is_(True),
                        ~select(TriageResultRow.id).where(TriageResultRow.incident_id == IncidentRow.id).exists(),
                    )
                )
                or 0
            )
            unsent = session.scalars(select(DraftRow.id).where(DraftRow.status.in_(("approved", "sending")))).all()
        stuck = [draft_id for draft_id in unsent if draft_id not in failed_drafts]
        if pending:
            problems.append(f"STUCK: {pending} listed incident version(s) still pending with no job to read them")
        if untriaged:
            problems.append(f"STUCK: {untriaged} stored incident(s) never triaged")
        if stuck:
            problems.append(
                f"STUCK: {len(stuck)} approved draft(s) neither sent nor failed: #{', #'.join(map(str, stuck[:20]))}"
            )
        if waiting:
            problems.append(f"still failed after the replay: {waiting} job(s) (`vhub failed list` says why)")
        return problems


def _kill_note(fault: WorkerKills) -> str:
    points = ", ".join(
        f"{point} {sum(1 for kill in fault.kills if kill.point == point)}"
        for point in dict.fromkeys(kill.point for kill in fault.kills)
    )
    return f"kills: {points or 'none'}"


def kill_timings(kills: list[Kill]) -> str:
    detected = [kill.detected_s for kill in kills if kill.detected_s is not None]
    rerun = [kill.rerun_s for kill in kills if kill.rerun_s is not None]
    if not detected:
        return "no worker was killed mid-job"
    line = (
        f"{len(kills)} workers killed mid-job: the job given back (the supervisor's reclaim) after median "
        f"{statistics.median(detected):.1f} s, at most {max(detected):.1f} s"
    )
    if rerun:
        line += f"; running again after median {statistics.median(rerun):.1f} s, at most {max(rerun):.1f} s"
    return line + " (the job kind's first retry interval included)"


def render_table(rows: list[Row]) -> str:
    lines = [
        "| fault | times injected | jobs retried | jobs replayed | lost | duplicated | time to recover |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        recover = f"{row.recover_s:.0f} s" if row.recover_s is not None else "NOT RECOVERED"
        lines.append(
            f"| {row.fault} | {row.injected:,} | {row.retried:,} | {row.replayed:,} | {row.lost} | {row.duplicated} "
            f"| {recover} |"
        )
    lines += [f"  {row.fault}: {'; '.join(row.notes)}" for row in rows if row.notes]
    return "\n".join(lines) + "\n"


@dataclass
class FaultReport:
    rows: list[Row]
    kills: list[Kill]
    failing: list[str]  # each loss, duplicate, breach or piece of work left stuck

    @property
    def code(self) -> int:
        return 1 if self.failing else 0


def run_faults(settings: Settings, plan: FaultPlan = FULL, out: TextIO = sys.stdout) -> FaultReport:
    """The fault run in ``settings``' data folder (``faults/`` under it, emptied first), its table printed."""
    if settings.database_url:
        raise ConfigurationError(
            "`vhub faults run` builds its own SQLite store (the locked-database fault is SQLite's): unset "
            "VHUB_DATABASE_URL to run it.",
            code="faults_database",
        )
    folder = settings.data_path / "faults"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    local = settings.model_copy(
        update={
            "data_dir": folder,
            "review_second_approver_for_red": False,  # one approval for red, as in the demo's auto-approve
            "restart_limit": 1000,  # the kills are deliberate: a worker killed 10 times is not a crash loop
            "queue_config": scaled_policy(plan.retry_scale, folder),
        }
    )
    local.ensure_dirs()
    logs.configure(local, process="faults", console=False)
    started = time.monotonic()
    out.write(
        f"vhub faults run: {len(plan.phases())} phases of {plan.incidents} new incidents on one stack with "
        f"{plan.workers} workers; retry intervals x{plan.retry_scale:g}. Data folder: {folder}\n"
    )
    os.environ[ISR_REQUESTS_ENV] = str(plan.isr_requests)  # the simulators' child reads it; vhub's settings do not
    stack = Stack(
        local, workers=plan.workers, simulators=Simulators(seed=plan.seed, incidents=plan.incidents, anchor=utcnow())
    )
    with stack:
        ctx = context.configure(stack.resolved())
        ctx.db.migrate()
        run = FaultRun(stack, ctx, plan, out)
        supervisor = run.supervise()
        try:
            for number, (name, faults) in enumerate(plan.phases()):
                run.phase(number, name, faults())
                if run.stack_stopped:
                    break
            replay_code, replayed = run.replay_all()
            verified = run.cli("verify", "--json", str(folder / "verify.json"))
            run.count_losses()
            unfinished = run.unfinished()
        finally:
            run.halt()
            supervisor.join(5)
    out.write("\n" + render_table(run.rows))
    out.write(kill_timings(run.kills) + "\n")
    out.write(f"\n`vhub failed replay --all`:\n{_indented(replayed)}")
    out.write(f"`vhub verify`:\n{_indented(verified.stdout + verified.stderr)}")
    problems = [*unfinished, *run.errors]
    if run.stack_stopped:
        problems.append(f"the stack stopped: {run.stack_stopped}")
    if replay_code:
        problems.append("`vhub failed replay --all` failed")
    breaches = [
        f"{row.fault}: {what}"
        for row in run.rows
        for what in (f"{row.lost} lost" if row.lost else "", f"{row.duplicated} duplicated" if row.duplicated else "")
        if what
    ]
    if verified.returncode:
        breaches.append("`vhub verify` found a breach")
    failing = breaches + [problem for problem in problems if not problem.startswith("still failed")]
    out.write("".join(f"  {line}\n" for line in problems))
    out.write(f"Took {time.monotonic() - started:.0f} s. ")
    out.write(
        "Nothing lost, nothing duplicated, every invariant holds.\n"
        if not failing
        else "FAILED: " + "; ".join(breaches or failing) + "\n"
    )
    return FaultReport(run.rows, run.kills, failing)


def _indented(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.strip().splitlines())
