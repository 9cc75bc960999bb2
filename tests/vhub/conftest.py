"""Core fixtures: the production log chain captured instead of rendered, or writing the JSON log file."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from structlog.testing import LogCapture

from vhub import logs, redaction
from vhub.settings import Settings


@pytest.fixture
def captured() -> Iterator[LogCapture]:
    """The production processor chain, with a capture at the end instead of a renderer."""
    capture = LogCapture()
    structlog.configure(
        processors=[*logs.shared_processors(), capture],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    yield capture
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    redaction.forget()


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Logging configured as a worker's, to a JSON file; the fixture reads what has been written so far."""
    settings = Settings(data_dir=tmp_path)
    logs.configure(settings, console=False)

    def written() -> str:
        for handler in logging.getLogger().handlers:
            handler.flush()
        return (settings.log_dir / logs.LOG_FILE).read_text(encoding="utf-8")

    yield written
    for handler in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(handler)
        handler.close()
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    redaction.forget()
