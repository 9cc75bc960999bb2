"""structlog set-up: JSON lines to a file in the data folder, readable lines on the console.

Run id, job id, system and step are bound through contextvars (``bind``) and cleared between jobs
(``new_context``); the redaction processor sits in both chains, after exceptions are formatted and
before anything is rendered. Standard-library loggers (rq, uvicorn) go through the same chain.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from vhub import redaction
from vhub.settings import Settings

LOG_FILE = "vhub.jsonl"

# What ``configure`` bound for the whole process; a new context starts from this alone.
_process_values: dict[str, Any] = {}

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
    redaction.redact_event,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def shared_processors() -> list[Any]:
    """The processors every event passes through, redaction included (tests build chains from this)."""
    return list(_SHARED)


def configure(settings: Settings, *, process: str = "vhub", console: bool = True) -> None:
    """Route structlog and standard logging to the JSON file and (optionally) the console."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    level = logging.getLevelName(settings.log_level.upper())

    file_handler = logging.FileHandler(settings.log_dir / LOG_FILE, encoding="utf-8")
    file_handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )
    )
    handlers: list[logging.Handler] = [file_handler]
    if console:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=_SHARED,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
                ],
            )
        )
        handlers.append(console_handler)

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "asyncio", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))

    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _process_values.clear()
    _process_values["process"] = process
    structlog.contextvars.bind_contextvars(process=process)


def bind(**values: Any) -> None:
    """Bind run_id, job_id, system, step... to every later event in this context."""
    structlog.contextvars.bind_contextvars(**values)


def new_context(**values: Any) -> None:
    """Drop everything bound since ``configure`` and every value remembered for masking, then bind these.

    A worker calls it as each job starts and ends, so no job's lines carry another job's references."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**_process_values, **values)
    redaction.forget()


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
