"""What the stack is doing now: queue depths, workers, failures, what is stored, how far each system is read.

Finding the stack never changes anything: a data folder with no running stack, or no database, is reported as
such, never created. ``vhub up`` leaves a pointer to its data folder in the user's state folder
(``~/.local/state/vhub/stacks``), so ``vhub status`` run elsewhere, without VHUB_DATA_DIR, still finds it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError
from rq import Worker
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from vhub.errors import VhubError
from vhub.models import uk_timestamp
from vhub.queues import Jobs, QueuePolicy, connect
from vhub.runtime import STATE_FILE, _cmdline, pid_alive, resolve
from vhub.settings import Settings, display_url
from vhub.store import Database
from vhub.store.incidents import count_incidents
from vhub.store.runs import get_watermark
from vhub.store.tables import DataQualityItemRow, RunRow


class NoStack(VhubError):
    code = "no_stack"


def stacks_dir() -> Path:
    """Where each running ``vhub up`` of this user leaves a pointer to its data folder."""
    return Path.home() / ".local" / "state" / "vhub" / "stacks"


def announce(settings: Settings) -> Path:
    """Note this process's stack for ``find_stack``; returns the pointer, to remove with ``withdraw``."""
    folder = stacks_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pointer = folder / f"{hashlib.sha256(str(settings.data_path).encode()).hexdigest()[:16]}.json"
    pointer.write_text(json.dumps({"data_dir": str(settings.data_path), "pid": os.getpid()}), encoding="utf-8")
    return pointer


def withdraw(pointer: Path) -> None:
    pointer.unlink(missing_ok=True)


def _live(data_path: Path) -> bool:
    """Whether a stack is running on this data folder now (its owner alive, and still the same program)."""
    try:
        state = json.loads((data_path / "run" / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    owner = int(state.get("owner_pid") or 0)
    return bool(owner) and pid_alive(owner) and _cmdline(owner) == state.get("owner_cmdline")


def running_stacks() -> list[Path]:
    """The data folders of this user's stacks that are running now."""
    found = []
    for pointer in sorted(stacks_dir().glob("*.json")) if stacks_dir().is_dir() else []:
        try:
            data_dir = Path(json.loads(pointer.read_text(encoding="utf-8"))["data_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _live(data_dir):
            found.append(data_dir)
    return found


def find_stack(settings: Settings) -> tuple[Settings, str | None]:
    """The settings of the running stack to report on, and a note if it was found by looking (not as set).
    Refuses, saying what to do, when there is none or it is ambiguous."""
    if _live(settings.data_path):
        return resolve(settings), None
    if settings.redis_url:  # a shared deployment: Redis and the store are named, not started here
        return settings, None
    if "data_dir" in settings.model_fields_set:
        raise NoStack(
            f"No stack is running on the data folder {settings.data_path} (VHUB_DATA_DIR). Start it with `vhub up`, "
            "or set VHUB_DATA_DIR to the data folder of the stack that is running."
        )
    running = running_stacks()
    if len(running) == 1:
        found = settings.model_copy(update={"data_dir": running[0]})
        return resolve(found), f"Data folder: {running[0]} (the running stack; VHUB_DATA_DIR is not set)"
    if running:
        raise NoStack(
            "More than one stack is running: set VHUB_DATA_DIR to the data folder of the one you mean: "
            + ", ".join(str(path) for path in running)
            + "."
        )
    raise NoStack(
        f"No running stack found: none on the data folder here ({settings.data_path}) and no `vhub up` running for "
        "this user. Start one with `vhub up`, or set VHUB_DATA_DIR to the data folder of the stack (and "
        "VHUB_REDIS_URL for a shared Redis)."
    )


def database_file(settings: Settings) -> Path | None:
    """The SQLite file of the store, or None when the store is a database server."""
    return None if settings.database_url else settings.data_path / "vhub.db"


def collect(settings: Settings) -> dict[str, Any]:
    report: dict[str, Any] = {"redis_url": display_url(settings.redis_url) if settings.redis_url else None}
    report.update(_queues(settings))
    report["store"] = None
    sqlite = database_file(settings)
    if sqlite is not None and not sqlite.is_file():
        report["store_error"] = f"no database at {sqlite}: the stack has not started on this data folder"
        return report
    db = Database(settings)
    try:
        report["store"] = _store(db)
    except SQLAlchemyError as error:
        report["store_error"] = f"the database could not be read ({type(error).__name__}); `vhub up` migrates it"
    finally:
        db.dispose()
    return report


def _store(db: Database) -> dict[str, Any]:
    with db.session(read_only=True) as session:
        last_run = session.scalars(select(RunRow).order_by(RunRow.started_at.desc()).limit(1)).first()
        watermark = get_watermark(session, "records_system")
        return {
            "incidents": count_incidents(session),
            "incident_versions": count_incidents(session, versions=True),
            "data_quality_open": session.scalar(
                select(func.count(DataQualityItemRow.id)).where(DataQualityItemRow.status == "open")
            ),
            "watermark_records_system": watermark,
            "last_run": {
                "id": last_run.id,
                "status": last_run.status,
                "started_at": last_run.started_at,
                "found": last_run.found,
            }
            if last_run
            else None,
        }


def _queues(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url:
        return {
            "queues": None,
            "workers": None,
            "failed_jobs": None,
            "redis_error": "no Redis running; start `vhub up`",
        }
    try:
        jobs = Jobs(connect(settings.redis_url), QueuePolicy.load(settings.queue_config))
        queues = {}
        failed_total = 0
        for queue in jobs.queues():
            failed = FailedJobRegistry(queue=queue).count
            failed_total += failed
            queues[queue.name] = {
                "queued": queue.count,
                "started": StartedJobRegistry(queue=queue).count,
                "scheduled": ScheduledJobRegistry(queue=queue).count,
                "deferred": DeferredJobRegistry(queue=queue).count,
                "failed": failed,
            }
        workers = [
            {"name": w.name, "state": w.get_state(), "job": w.get_current_job_id()}
            for w in Worker.all(connection=jobs.connection)
        ]
        return {"queues": queues, "workers": workers, "failed_jobs": failed_total}
    except RedisError as error:
        return {"queues": None, "workers": None, "failed_jobs": None, "redis_error": f"Redis not reachable ({error})"}


def render(report: dict[str, Any]) -> str:
    lines = []
    if report.get("queues") is None:
        lines.append(f"Queues: {report.get('redis_error')}")
    else:
        lines.append(f"{'queue':<10}{'queued':>8}{'running':>9}{'scheduled':>11}{'deferred':>10}{'failed':>8}")
        for name, q in report["queues"].items():
            lines.append(
                f"{name:<10}{q['queued']:>8}{q['started']:>9}{q['scheduled']:>11}{q['deferred']:>10}{q['failed']:>8}"
            )
        lines.append(f"Workers: {len(report['workers'])}")
        for worker in report["workers"]:
            lines.append(f"  {worker['name']}: {worker['state']}" + (f" ({worker['job']})" if worker["job"] else ""))
        lines.append(f"Failed jobs: {report['failed_jobs']}  (see `vhub failed list`)")
    store = report["store"]
    if store is None:
        lines.append(f"Store: {report.get('store_error')}")
        return "\n".join(lines)
    lines.append(
        f"Incidents stored: {store['incidents']} ({store['incident_versions']} versions); "
        f"data-quality items open: {store['data_quality_open']}"
    )
    watermark = store["watermark_records_system"]
    lines.append(f"Records system read up to: {uk_timestamp(watermark) if watermark else 'not yet read'}")
    if store["last_run"]:
        run = store["last_run"]
        found = "not yet known" if run["found"] is None else run["found"]
        lines.append(f"Last run: {run['status']}, started {uk_timestamp(run['started_at'])}, found {found}")
    return "\n".join(lines)
