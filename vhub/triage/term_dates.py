"""The start-up check of each authority's school term dates: a warning before they run out, an error after.

`vhub up`, `vhub worker` and `vhub scheduler` run it; ``python -m vhub.triage.term_dates`` prints it for an
administrator (runbooks/term-dates.md). It reports and never stops anything: beyond its term dates an
authority's Encompass deadlines are still computed, flagged for the reviewer.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from vhub.errors import ConfigurationError
from vhub.logs import get_logger
from vhub.models import LONDON
from vhub.triage.calendar import spoken_date
from vhub.triage.config import TriageConfig, load_config

log = get_logger(__name__)


@dataclass(frozen=True)
class TermDatesFinding:
    authority: str  # the authority's key in config/authorities.toml
    level: Literal["warning", "error"]
    last_covered: date | None  # term_dates_until; None when the authority has no term dates at all
    message: str  # plain English: which authority, the last date covered, what to do


def check_term_dates(config: TriageConfig, today: date) -> list[TermDatesFinding]:
    """One finding per authority whose term dates have ended, are missing, or end within the warning window."""
    window = config.calendar.warn_days_before_end
    todo = "add the next term dates (runbooks/term-dates.md)"
    findings = []
    for authority in config.authorities.values():
        last = authority.term_dates_until
        if last is None:
            message = (
                f"No term dates are configured for {authority.name}: every Operation Encompass deadline "
                f"there is flagged for the reviewer; {todo}."
            )
            findings.append(TermDatesFinding(authority.key, "error", None, message))
        elif last < today:
            message = (
                f"The term dates of {authority.name} ended on {spoken_date(last)}: Operation Encompass deadlines "
                f"after that are flagged for the reviewer; {todo}."
            )
            findings.append(TermDatesFinding(authority.key, "error", last, message))
        elif (last - today).days <= window:
            days = (last - today).days
            message = (
                f"The term dates of {authority.name} end on {spoken_date(last)}, in {days} day{'s' * (days != 1)} "
                f"(the warning starts {window} days before): {todo}."
            )
            findings.append(TermDatesFinding(authority.key, "warning", last, message))
    return findings


def warn_about_term_dates(today: date | None = None, config: TriageConfig | None = None) -> list[TermDatesFinding]:
    """Log each finding (a warning, or an error that does not stop start-up); returns them."""
    config = config or load_config()
    findings = check_term_dates(config, today or datetime.now(LONDON).date())
    for finding in findings:
        emit = log.error if finding.level == "error" else log.warning
        emit(finding.message, authority=finding.authority, check="term_dates")
    return findings


def _report(config: TriageConfig, today: date) -> str:
    lines = []
    for authority in config.authorities.values():
        first, last = authority.term_dates_from, authority.term_dates_until
        covered = f"{spoken_date(first)} to {spoken_date(last)}" if first and last else "no term dates"
        lines.append(f"{authority.name:<18} {covered}")
    findings = check_term_dates(config, today)
    lines += [f"{finding.level.upper()}: {finding.message}" for finding in findings]
    if not findings:
        lines.append(
            f"Every authority's term dates run more than {config.calendar.warn_days_before_end} days past "
            f"{spoken_date(today)}."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vhub.triage.term_dates", description="Show the term dates each authority has configured."
    )
    parser.add_argument(
        "--today", type=date.fromisoformat, default=None, help="check as on this day, YYYY-MM-DD (default: today)"
    )
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except ConfigurationError as error:
        print(f"vhub: {error.message}", file=sys.stderr)
        return 2
    print(_report(config, args.today or datetime.now(LONDON).date()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
