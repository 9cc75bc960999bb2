"""The MOU with the children's services front doors: config/mou.toml's timescales and escalation route, and the
moments they give (when a decision falls due, when each step of its escalation does) on the working-day calendar
of the Operation Encompass deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vhub.errors import ConfigurationError
from vhub.models import LONDON
from vhub.triage.calendar import is_working_day
from vhub.triage.config import CONFIG_DIR, load_config, read_checked

MOU_FILE = CONFIG_DIR / "mou.toml"
OUTCOMES: dict[str, str] = {
    "no_further_action": "No further action",
    "early_help": "Early help",
    "assessment": "Assessment",
    "strategy_discussion": "Strategy discussion / section 47",
}
"""What a front door decides on a referral, as vhub stores it, and how people read it."""
RISKS = ("red", "amber", "green")


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timescales(_Config):
    """Working days to a decision, by risk; None in an authority's own table: the default's."""

    red: int | None = Field(None, ge=0, le=30)
    amber: int | None = Field(None, ge=0, le=30)
    green: int | None = Field(None, ge=0, le=30)


class EscalationStep(_Config):
    after_working_days: int = Field(ge=0, le=30)  # after the decision fell due
    police_role: str = Field(min_length=1, max_length=80)
    partner_role: str = Field(min_length=1, max_length=80)


class MouConfig(_Config):
    channel: Literal["duty", "admins"]
    decision_by: time
    timescales: dict[str, Timescales]
    escalation: tuple[EscalationStep, ...] = Field(min_length=1)
    reread_decided_days: int = Field(14, ge=0, le=90)  # a decision is read again this long, for a revision

    @model_validator(mode="after")
    def _complete(self) -> MouConfig:
        default = self.timescales.get("default")
        if default is None or None in (default.red, default.amber, default.green):
            raise ValueError("[timescales.default] must give red, amber and green (working days)")
        waits = [step.after_working_days for step in self.escalation]
        if waits[0] != 0 or waits != sorted(set(waits)):
            raise ValueError(
                "the [[escalation]] steps must start at after_working_days = 0 and each come later than the last"
            )
        return self

    def working_days(self, authority: str, risk: str | None) -> int:
        """Working days the MOU gives ``authority``'s front door to decide on a referral of ``risk``."""
        level = risk if risk in RISKS else "green"
        own = self.timescales.get(authority)
        days = getattr(own, level) if own is not None else None
        if days is None:
            days = getattr(self.timescales["default"], level)
        return int(days)

    def due(self, authority: str, risk: str | None, received_at: datetime) -> datetime:
        """When the decision on a referral that reached the front door at ``received_at`` falls due (UTC)."""
        return self.working_day_end(received_at, self.working_days(authority, risk))

    def step_due(self, decision_due: datetime, step: int) -> datetime:
        """When escalation step ``step`` (0 first) of a decision due at ``decision_due`` falls due."""
        wait = self.escalation[step].after_working_days
        return decision_due if wait == 0 else self.working_day_end(decision_due, wait)

    def working_day_end(self, start: datetime, days: int) -> datetime:
        """``decision_by`` on the ``days``-th working day after ``start``'s UK day (0: that day, or the next working
        day when it is not one)."""
        day = start.astimezone(LONDON).date()
        counted = 0
        while counted < days or not is_working_day(day):
            day += timedelta(days=1)
            counted += is_working_day(day)
        return datetime.combine(day, self.decision_by, tzinfo=LONDON).astimezone(UTC)


@cache
def load_mou(path: Path = MOU_FILE, authorities: tuple[str, ...] | None = None) -> MouConfig:
    """config/mou.toml, checked (cached per file); ConfigurationError naming the file and what to fix. Given the
    known ``authorities``, a timescales table for any other is refused (a misspelt authority would be ignored)."""
    config = read_checked(path, MouConfig)
    if authorities is not None:
        unknown = sorted(set(config.timescales) - {"default", *authorities})
        if unknown:
            raise ConfigurationError(
                f"{path} has timescales for {', '.join(unknown)}, not an authority of config/authorities.toml: "
                f"use one of {', '.join(authorities)}."
            )
    return config


def mou_config() -> MouConfig:
    """config/mou.toml, checked against the authorities of config/authorities.toml (start-up and each job)."""
    return load_mou(authorities=tuple(sorted(load_config().authorities)))
