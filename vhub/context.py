"""What a job needs from its process: settings, the store and the queues, built once per process.

Entry points (`vhub worker`, `vhub demo`, tests) call ``configure`` with the settings they built;
a job calls ``current()``. A process that never configured (a plain `rq worker`) builds the
settings from the environment once, here, through the one settings object.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from vhub.queues import Jobs, QueuePolicy, connect
from vhub.settings import Settings
from vhub.store import Database


@dataclass
class AppContext:
    settings: Settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings)

    @cached_property
    def jobs(self) -> Jobs:
        return Jobs(connect(self.settings.redis_url), QueuePolicy.load(self.settings.queue_config))


_current: AppContext | None = None


def configure(settings: Settings) -> AppContext:
    global _current
    if _current is not None and "db" in _current.__dict__:
        _current.db.dispose()
    _current = AppContext(settings)
    return _current


def use(context: AppContext) -> AppContext:
    """Make an already built context the current one (a test switching between stacks)."""
    global _current
    _current = context
    return context


def current() -> AppContext:
    return _current if _current is not None else configure(Settings())
