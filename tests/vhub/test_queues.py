"""queue/queues.toml: the policy the code reads, and the plain errors a broken file gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from vhub.errors import ConfigurationError
from vhub.queues import POLICY_FILE, QueuePolicy

MINIMAL = """
[queues]
order = ["submit"]
result_ttl_s = 60
failure_ttl_s = 60
{extra}
[jobs.submit]
queue = "{queue}"
timeout_s = 30
retry_intervals_s = [1, 2]
"""


def write(tmp_path: Path, *, extra: str = "", queue: str = "submit") -> Path:
    path = tmp_path / "queues.toml"
    path.write_text(MINIMAL.format(extra=extra, queue=queue), encoding="utf-8")
    return path


def test_the_shipped_policy_loads() -> None:
    """Every job of the shipped file names a known queue; dead workers' jobs are looked for every minute."""
    policy = QueuePolicy.load(POLICY_FILE)
    assert {"scan", "ingest", "triage", "draft", "isr_scan", "isr_lookup", "submit"} <= set(policy.jobs)
    assert 60 == policy.maintenance_interval_s
    assert "submit" == policy.job("submit").queue


def test_maintenance_interval_defaults_and_is_read(tmp_path: Path) -> None:
    assert 60 == QueuePolicy.load(write(tmp_path)).maintenance_interval_s
    assert 5 == QueuePolicy.load(write(tmp_path, extra="maintenance_interval_s = 5")).maintenance_interval_s


def test_a_zero_maintenance_interval_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="maintenance_interval_s must be at least 1 second"):
        QueuePolicy.load(write(tmp_path, extra="maintenance_interval_s = 0"))


def test_a_job_on_an_unknown_queue_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="job 'submit' uses queue 'sumbit', not in queues.order"):
        QueuePolicy.load(write(tmp_path, queue="sumbit"))


def test_an_unknown_job_kind_names_the_table_to_add() -> None:
    with pytest.raises(ConfigurationError, match=r"has no \[jobs.reticulate\] table"):
        QueuePolicy.load(POLICY_FILE).job("reticulate")
