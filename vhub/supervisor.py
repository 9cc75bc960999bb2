"""Keeps a running stack running: a worker, the scheduler or the review app that stops is restarted.

A stopped worker's process group is killed (its browser's driver, rq's scheduler) and the jobs it held are
queued again at once, their session slots freed: its process is known to be gone, so no job runs twice.
Restarts back off (1 s, 2 s, 4 s... up to a minute); after ``restart_limit`` stops within ``restart_window_s``
a process is given up, with an alert. Redis or the simulated systems stopping stops the whole stack.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from vhub.alerts import raise_alert
from vhub.logs import get_logger
from vhub.runtime import Child, Stack, worker_name
from vhub.store import Database

log = get_logger(__name__)

RESTARTED = ("worker", "scheduler", "review")
"""The processes restarted when they stop; any other stopping stops the stack."""
LONGEST_BACK_OFF_S = 60.0


def how_it_ended(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


class Supervisor:
    """Watches the stack's processes, once a second in ``run``, or one look at a time with ``check``."""

    def __init__(self, stack: Stack, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stack = stack
        self.clock = clock
        self.stops: dict[str, deque[float]] = {}  # when each process stopped, within the window
        self.due: dict[str, float] = {}  # processes waiting for their restart, and when
        self.given_up: set[str] = set()
        self._db: Database | None = None

    def run(self, interval: float = 1.0) -> str:
        """Keep the stack running; returns why it cannot go on."""
        try:
            while (reason := self.check()) is None:
                time.sleep(interval)
            return reason
        finally:
            if self._db is not None:
                self._db.dispose()

    def check(self) -> str | None:
        """Handle whatever stopped since the last look; the reason the stack must stop, if it must."""
        for child in list(self.stack.children):
            if child.name in self.given_up:
                continue
            if child.name in self.due:
                if self.clock() >= self.due[child.name]:
                    del self.due[child.name]
                    again = self.stack.restart(child)
                    log.warning("restarted", component=child.name, pid=again.pid)
                continue
            if child.running():
                continue
            if not child.name.startswith(RESTARTED):
                return f"{child.name} exited unexpectedly ({how_it_ended(child.returncode)})"
            self._stopped(child)
        workers = [c for c in self.stack.children if c.name.startswith("worker")]
        if workers and all(c.name in self.given_up for c in workers):
            return "every worker stopped repeatedly and was given up"
        return None

    def _stopped(self, child: Child) -> None:
        ended = how_it_ended(child.returncode)
        child.kill()  # and anything it left running in its process group: nothing of it works on
        given_back = 0
        if name := worker_name(child):
            try:
                given_back = len(self.stack.reclaim([name]))
            except RedisError as error:  # rq's own clean-up gives its jobs back later
                log.error("could not queue again a stopped worker's jobs", component=child.name, error=str(error))
        now = self.clock()
        stops = self.stops.setdefault(child.name, deque())
        stops.append(now)
        while stops and now - stops[0] > self.stack.settings.restart_window_s:
            stops.popleft()
        jobs = f"{given_back} job(s) it was running queued again. " if name else ""
        if len(stops) > self.stack.settings.restart_limit:
            self.given_up.add(child.name)
            minutes = self.stack.settings.restart_window_s / 60
            log.error("stopped repeatedly; not restarted", component=child.name, stops=len(stops), ended=ended)
            self._alert(
                f"vhub {child.name} given up",
                f"{child.name} stopped {len(stops)} times within {minutes:.0f} minutes (last: {ended}) and is no "
                f"longer restarted. {jobs}Its log is {child.log_path}. The rest of the stack is still running; "
                "restart vhub once the cause is fixed.",
                child.name,
            )
            return
        delay = min(LONGEST_BACK_OFF_S, 2.0 ** (len(stops) - 1))
        self.due[child.name] = now + delay
        log.error("stopped unexpectedly; restarting", component=child.name, ended=ended, restart_in_s=delay)
        self._alert(
            f"vhub {child.name} restarted",
            f"{child.name} stopped unexpectedly ({ended}); it restarts in {delay:.0f} s. {jobs}"
            f"Its log is {child.log_path}.",
            child.name,
        )

    def _alert(self, title: str, text: str, subject: str) -> None:
        try:
            if self._db is None:
                self._db = Database(self.stack.resolved())
            raise_alert(self.stack.resolved(), self._db, title, text, subject=subject)
        except SQLAlchemyError as error:  # the restart matters more than its record
            log.error("alert not recorded", title=title, error=type(error).__name__)
