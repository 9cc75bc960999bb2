"""The one settings object: read from VHUB_* environment variables and .env, then passed down.

Defaults embed what can be embedded: vhub starts its own redis-server and keeps a SQLite file in the
data folder. The external systems are never guessed: in live mode (the default) each one's URL and
account must be set, and in simulated mode (`vhub demo`, `vhub up --simulate`) vhub starts simulated
ones and uses nothing else. Nested values use a double underscore: ``VHUB_RECORDS_SYSTEM__URL=https://...``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout: queue/, selectors/, templates/ and fixtures/ are read from here."""

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")


class ExternalSystem(BaseModel):
    """Where an external system is and the bot's account on it. Nothing has a default: an unset value
    stops a live start-up with the setting's name (see ``unconfigured``)."""

    url: str = ""
    username: str = ""
    password: SecretStr = SecretStr("")

    def missing(self) -> list[str]:
        """Which of url, username and password are not set."""
        return [
            name
            for name, value in (
                ("url", self.url),
                ("username", self.username),
                ("password", self.password.get_secret_value()),
            )
            if not value.strip()
        ]


Mode = Literal["live", "simulated"]


class Settings(BaseSettings):
    """Every setting vhub has. Units are in the names or descriptions."""

    model_config = SettingsConfigDict(env_prefix="VHUB_", env_file=".env", env_nested_delimiter="__", extra="ignore")

    mode: Mode = Field(
        "live",
        description="'live': every external system is the real one named by its settings, and start-up stops if any "
        "is not configured; 'simulated': vhub starts the simulated systems of fixtures/ and talks to nothing else "
        "(`vhub demo` and `vhub up --simulate` set it)",
    )
    data_dir: Path = Field(Path("var"), description="folder for the database, logs, evidence and Redis")
    redis_url: str = Field("", description="Redis to use; empty starts an embedded redis-server")
    redis_port: int = Field(0, ge=0, le=65535, description="port of the embedded redis-server; 0 = any free")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite file in the data folder")

    browser_executable: str = Field(
        "auto",
        description="'auto' = /usr/bin/chromium when present, else Playwright's bundled Chromium; "
        "'bundled' = always Playwright's; or a path to a Chromium binary",
    )
    browser_headless: bool = True
    browser_recycle_every: int = Field(50, ge=1, description="items a browser context serves before renewal")
    browser_timeout_s: float = Field(30.0, gt=0, description="longest wait for one page action, seconds")
    browser_trace_snapshots: bool = Field(
        False,
        description="record DOM snapshots and screenshots in every item's trace (about 1.5x slower reading); "
        "off, traces hold actions and network, and a failure still keeps a full screenshot and the page HTML",
    )

    records_system: ExternalSystem = ExternalSystem()
    isr_portal: ExternalSystem = ExternalSystem()
    portals: dict[str, ExternalSystem] = Field(
        {},
        description="the partner portals drafts are posted to, by name (referral_herefordshire, school_portal, "
        "marac_portal...), each with url, username and password",
    )

    review_host: str = Field("127.0.0.1", description="address the review app listens on")
    review_port: int = Field(8800, ge=0, le=65535, description="port of the review app; 0 = any free port")
    review_idle_minutes: float = Field(30, gt=0, description="a review session ends after this long unused")
    review_claim_minutes: float = Field(5, gt=0, description="opening a draft claims it for this long")
    review_lock_after_failures: int = Field(5, ge=1, description="failed sign-ins before an account pauses")
    review_lock_minutes: float = Field(15, gt=0, description="how long an account pauses after those failures")
    review_address_lock_after_failures: int = Field(
        20,
        ge=1,
        description="failed sign-ins from one client address, whatever the names, within review_lock_minutes "
        "before sign-ins from that address pause for review_lock_minutes",
    )
    review_second_approver_for_red: bool = Field(True, description="red-risk drafts need two different approvers")
    review_policy: Path = Field(
        PROJECT_ROOT / "config" / "review.toml", description="the review queue's policy (bulk approval)"
    )
    review_https: bool = Field(False, description="the app is served over https (cookies are then Secure)")
    review_trusted_proxies: str = Field(
        "127.0.0.1",
        description="addresses (comma-separated, or '*') of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto the review app believes: the client address they give is the one failed sign-ins are "
        "counted against; any other sender's headers are ignored",
    )

    alert_webhook_url: SecretStr = Field(
        SecretStr(""),
        description="the admins' Microsoft Teams channel: its incoming (or Workflows) webhook URL, where paused "
        "portals, repeated failures and the morning report are posted as Adaptive Cards; empty = logged and "
        "audited only",
    )
    duty_webhook_url: SecretStr = Field(
        SecretStr(""),
        description="the duty sergeant's Teams channel: its webhook URL, where deadlines about to be missed and "
        "Operation Encompass notices not approved before school are posted; empty = logged and audited only",
    )
    deadline_warning_hours: float = Field(
        2.0, gt=0, description="a draft still waiting this many hours before its deadline is alerted, hours"
    )
    failure_alert_threshold: int = Field(
        3, ge=1, description="failed jobs waiting (in all queues) that raise a repeated-failures alert"
    )

    workers: int = Field(2, ge=1, description="rq workers `vhub up` starts")
    worker_stop_timeout_s: float = Field(
        300.0,
        gt=0,
        description="how long a stopping worker may take to finish the job it is running before it is killed "
        "(its job is then queued again at once), seconds",
    )
    restart_limit: int = Field(
        5,
        ge=1,
        description="restarts of one worker (or the scheduler or review app) within restart_window_s after which "
        "`vhub up` stops restarting it and raises an alert",
    )
    restart_window_s: float = Field(600.0, gt=0, description="the window restart_limit counts in, seconds")
    queue_config: Path = Field(PROJECT_ROOT / "queue" / "queues.toml", description="queue topology and job policy")
    timezone: str = "Europe/London"
    log_level: str = "INFO"
    keep_success_evidence: bool = Field(False, description="also keep a screenshot of successful steps")
    evidence_store: Literal["folder", "database"] = Field(
        "folder",
        description="where the evidence of failed bot steps (screenshots, saved pages, traces: personal data) is kept: "
        "'folder' = <data>/evidence on the worker's own machine (one machine); 'database' = in the store, so the "
        "review app on any host shows what a worker on another kept (workers on several hosts: set it on every one)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/London") from None
        return value

    def external(self, system: str) -> ExternalSystem:
        """Where an external system is: records_system and isr_portal by their own settings, portals by name."""
        value = getattr(self, system, None)
        if isinstance(value, ExternalSystem):
            return value
        return self.portals.get(system, ExternalSystem())

    def unconfigured(self, systems: list[str]) -> list[str]:
        """The settings (by environment variable) that ``systems`` still need: URL, username, password."""
        return [env_name(system, part) for system in systems for part in self.external(system).missing()]

    def alert_url(self, setting: str) -> str:
        """The webhook URL an alert channel's ``setting`` holds (a secret: whoever has it can post), or empty."""
        value = getattr(self, setting)
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def data_path(self) -> Path:
        return self.data_dir.resolve()

    @property
    def log_dir(self) -> Path:
        return self.data_path / "logs"

    @property
    def evidence_dir(self) -> Path:
        return self.data_path / "evidence"

    @property
    def run_dir(self) -> Path:
        """Pid files and the state of the embedded stack."""
        return self.data_path / "run"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'vhub.db'}"

    @property
    def chromium_path(self) -> str | None:
        """The Chromium binary to launch, or None for Playwright's bundled one."""
        if self.browser_executable == "bundled":
            return None
        if self.browser_executable == "auto":
            return str(SYSTEM_CHROMIUM) if SYSTEM_CHROMIUM.exists() else None
        return self.browser_executable

    def ensure_dirs(self) -> None:
        """Create the data folder and its parts, readable by the service account alone."""
        keep_private()
        for path in (self.data_path, self.log_dir, self.evidence_dir, self.run_dir):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)  # a folder made before (or by hand) is closed too


ALERT_CHANNELS: dict[str, str] = {"admins": "alert_webhook_url", "duty": "duty_webhook_url"}
"""Each Teams channel alerts go to, and the setting that holds its webhook URL."""

OWN_SETTINGS = ("records_system", "isr_portal")
"""Systems with a settings field of their own; every other external system is a portal in ``Settings.portals``."""


def env_name(system: str, part: str) -> str:
    """The environment variable that sets ``part`` (url, username, password) of an external system."""
    prefix = f"VHUB_{system.upper()}" if system in OWN_SETTINGS else f"VHUB_PORTALS__{system.upper()}"
    return f"{prefix}__{part.upper()}"


def keep_private() -> None:
    """Whatever this process and its children create from now on (database, logs, reports, evidence, Redis's
    files) is readable by the service account alone: folders 0700, files 0600."""
    os.umask(0o077)


def display_url(url: str) -> str:
    """A URL fit to print: any password in it replaced by ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")
