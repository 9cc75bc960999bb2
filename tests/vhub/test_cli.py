"""The `vhub` command: what an operator sees when things are and are not running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vhub.portals import portal_names
from vhub.store.database import sql_script


def vhub(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {"VHUB_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "vhub", *args], capture_output=True, text=True, env=environment, timeout=120
    )


def test_dump_prints_the_ground_truth(tmp_path: Path) -> None:
    """`vhub fixtures dump` prints the generator's records and what it planted, as JSON."""
    result = vhub("fixtures", "dump", "--seed", "3", "--incidents", "60", data_dir=tmp_path)
    truth = json.loads(result.stdout)
    assert (0, 60, 3) == (result.returncode, truth["total"], truth["seed"])
    assert truth["planted"]["invalid"] and truth["planted"]["hidden_high_risk"]


def test_dump_ends_the_synthetic_night_at_the_anchor_given(tmp_path: Path) -> None:
    """`--anchor` moves the records to end at that moment; one with no time zone is refused with the reason."""
    result = vhub("fixtures", "dump", "--incidents", "30", "--anchor", "2027-03-02T07:15:00+00:00", data_dir=tmp_path)
    truth = json.loads(result.stdout)
    assert (0, "2027-03-02T07:15:00+00:00", "2027-02-02T07:15:00+00:00") == (
        result.returncode,
        truth["anchor"],
        truth["historic_backlog"]["before"],
    )
    refused = vhub("fixtures", "dump", "--anchor", "2027-03-02T07:15", data_dir=tmp_path)
    assert (2, True) == (refused.returncode, "has no time zone" in refused.stderr)


def test_status_without_a_stack_says_what_to_do(tmp_path: Path) -> None:
    """With nothing running on the data folder, status says so and how to start it, and creates nothing there."""
    result = vhub("status", data_dir=tmp_path)
    assert (2, "") == (result.returncode, result.stdout)
    assert result.stderr.startswith(f"vhub: No stack is running on the data folder {tmp_path} (VHUB_DATA_DIR).")
    assert [] == list(tmp_path.iterdir())


def test_failed_without_a_stack_exits_with_advice(tmp_path: Path) -> None:
    """An admin asking for failed jobs with nothing running is told how to start it."""
    result = vhub("failed", "list", data_dir=tmp_path)
    assert (2, f"vhub: No stack is running on the data folder {tmp_path} (VHUB_DATA_DIR).") == (
        result.returncode,
        result.stderr.split(" Start it")[0],
    )


def test_resuming_a_portal_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    """A mistyped portal name is refused with the names config/portals.toml knows; nothing says "resumed"."""
    result = vhub("portals", "resume", "school", data_dir=tmp_path)
    expected = f"vhub: There is no portal called 'school'. config/portals.toml names: {', '.join(portal_names())}.\n"
    assert (2, "", expected) == (result.returncode, result.stdout, result.stderr)


@pytest.mark.usefixtures("redis_client")  # an empty Redis: no failed jobs
def test_replaying_a_job_that_is_not_failed_is_an_error(tmp_path: Path, redis_url: str) -> None:
    """An id that is not among the failed jobs is refused, pointing at `vhub failed list`; nothing is replayed."""
    result = vhub("failed", "replay", "not-a-job", data_dir=tmp_path, env={"VHUB_REDIS_URL": redis_url})
    expected = (
        "vhub: not-a-job is not among the failed jobs; `vhub failed list` shows the ids of those that are. "
        "Nothing was replayed.\n"
    )
    assert (2, "", expected) == (result.returncode, result.stdout, result.stderr)


def test_bad_database_url_is_a_plain_error(tmp_path: Path) -> None:
    """A database URL of an unsupported kind is refused in one line, without a traceback."""
    result = vhub("users", "list", data_dir=tmp_path, env={"VHUB_DATABASE_URL": "mysql://x"})
    assert 2 == result.returncode
    assert result.stderr.startswith("vhub: VHUB_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url", ["postgresql+psycopg://vhub@db/vhub", "sqlite:///var/vhub.db"])
def test_migrations_render_for_both_databases(url: str) -> None:
    """The schema, with its append-only audit guard, renders for SQLite and for PostgreSQL."""
    script = sql_script(url)
    assert 26 == script.count("CREATE TABLE")  # with evidence_files (0012), partner decisions and escalations (0013),
    # cra_scores (0014), the referral audit's samples, sampled referrals and scores (0015)
    assert "audit_events is append-only" in script


def test_the_mou_report_is_written_for_a_month_and_a_wrong_month_is_refused(tmp_path: Path) -> None:
    """`vhub report mou --month 2026-11` writes its HTML and CSVs to the folder given; "2026-13" or no month is a
    plain refusal naming the form to use, and writes nothing."""
    out = tmp_path / "reports"
    written = vhub("report", "mou", "--month", "2026-11", "--out", str(out), data_dir=tmp_path / "var")
    wrong = vhub("report", "mou", "--month", "2026-13", data_dir=tmp_path / "other")
    missing = vhub("report", "mou", data_dir=tmp_path / "other")
    assert (
        0,
        [
            "mou-2026-11-open-escalations.csv",
            "mou-2026-11-referral-audit-agreement.csv",
            "mou-2026-11-referral-audit-trend.csv",
            "mou-2026-11-referral-audit.csv",
            "mou-2026-11.csv",
            "mou-2026-11.html",
        ],
    ) == (
        written.returncode,
        sorted(path.name for path in out.iterdir()),
    )
    assert (1, True) == (wrong.returncode, "give it as YYYY-MM" in wrong.stderr)
    assert (1, True) == (missing.returncode, "needs --month YYYY-MM" in missing.stderr)
    assert not (tmp_path / "other").exists()


def test_the_cra_audit_is_written_for_a_month_and_a_wrong_month_is_refused(tmp_path: Path) -> None:
    """`vhub report cra-audit --month 2026-11` writes its HTML and three CSVs; "2026-13" or no month is a plain
    one-line refusal naming the form to use, and writes nothing."""
    out = tmp_path / "reports"
    written = vhub("report", "cra-audit", "--month", "2026-11", "--out", str(out), data_dir=tmp_path / "var")
    wrong = vhub("report", "cra-audit", "--month", "2026-13", data_dir=tmp_path / "other")
    missing = vhub("report", "cra-audit", data_dir=tmp_path / "other")
    assert (0, 4, ["cra-audit-2026-11.html"]) == (
        written.returncode,
        len(list(out.iterdir())),
        [path.name for path in out.glob("*.html")],
    )
    assert (1, 1, True) == (wrong.returncode, len(wrong.stderr.splitlines()), "give it as YYYY-MM" in wrong.stderr)
    assert (1, True) == (missing.returncode, "cra-audit needs --month YYYY-MM" in missing.stderr)
    assert not (tmp_path / "other").exists()


def test_demo_days_need_referrals_sent(tmp_path: Path) -> None:
    """`vhub demo --days 3` without --auto-approve would have no referral to decide: refused, saying why."""
    result = vhub("demo", "--days", "3", data_dir=tmp_path)
    assert (1, True) == (result.returncode, "--days needs --auto-approve" in result.stderr)
