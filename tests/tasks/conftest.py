"""Task fixtures: job functions called directly, outside a worker, end as a worker would end them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vhub import logs


@pytest.fixture(autouse=True)
def end_of_job() -> Iterator[None]:
    """Forget what a task bound to the log context and remembered for masking, as the worker does after a job."""
    yield
    logs.new_context()
