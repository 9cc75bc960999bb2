"""Starting the simulated external systems for a stack, and the accounts the bots use on them."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from fixtures.settings import SimulatorSettings, account
from vhub.runtime import wait_for_http, wait_for_ports_file
from vhub.settings import ExternalSystem

if TYPE_CHECKING:
    from vhub.runtime import Stack


def simulated_system(name: str, url: str) -> ExternalSystem:
    """The simulated ``name`` at ``url``, with the synthetic account it accepts."""
    username, password = account(name)
    return ExternalSystem(url=url, username=username, password=SecretStr(password))


@dataclass(frozen=True)
class Simulators:
    """Every simulated system in one child process of the stack (`vhub fixtures serve`), from one seed.

    Unset values come from the simulators' own settings (VHUB_FIXTURES_SEED, VHUB_FIXTURES_INCIDENTS)."""

    seed: int | None = None
    incidents: int | None = None
    extra: Path | None = None
    anchor: datetime | None = None  # the end of the synthetic night; None: the generator's fixed default

    def start(self, stack: Stack) -> dict[str, ExternalSystem]:
        """Start them as a child of ``stack``; returns each system's URL and account once all answer."""
        knobs = SimulatorSettings()
        ports_file = stack.settings.run_dir / "fixtures.json"
        argv = serve_command(
            ports_file,
            seed=knobs.fixtures_seed if self.seed is None else self.seed,
            incidents=knobs.fixtures_incidents if self.incidents is None else self.incidents,
            extra=self.extra,
            anchor=self.anchor,
        )
        child = stack.start_child("fixtures", argv)
        # The records system generates its incidents before it listens: allow for that (about 4 s for 10,000
        # on a quiet 2-core machine, several times that on a busy one).
        incidents = knobs.fixtures_incidents if self.incidents is None else self.incidents
        urls = wait_for_ports_file(ports_file, child, timeout=30.0 + incidents / 100)
        for url in urls.values():
            wait_for_http(f"{url}/_admin/health", child)
        return {name: simulated_system(name, url) for name, url in urls.items()}


def serve_command(
    ports_file: Path, *, seed: int, incidents: int, extra: Path | None = None, anchor: datetime | None = None
) -> list[str]:
    """The command that serves every simulated system on free ports, writing their URLs to ``ports_file``
    (removed first, so a stale file is never read)."""
    ports_file.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "vhub", "fixtures", "serve", "--port-base", "0", "--ports-file", str(ports_file)]
    argv += ["--seed", str(seed), "--incidents", str(incidents)]
    argv += ["--anchor", anchor.isoformat()] if anchor else []
    return argv + (["--extra", str(extra)] if extra else [])


def serve(
    *,
    host: str,
    port_base: int,
    ports_file: Path | None,
    seed: int,
    incidents: int,
    extra: Path | None,
    anchor: datetime | None = None,
) -> None:
    """`vhub fixtures serve`: every simulated system until SIGTERM or Ctrl-C."""
    from fixtures.host import SYSTEMS, build_apps, serve_all

    apps = build_apps(SimulatorSettings(), seed=seed, incidents=incidents, extra=extra, anchor=anchor)
    ports = {name: (port_base + offset if port_base else 0) for offset, name in enumerate(SYSTEMS)}
    serve_all(apps, host=host, ports=ports, ports_file=ports_file, on_ready=lambda line: print(line, flush=True))


def ground_truth_json(seed: int, incidents: int, anchor: datetime | None = None) -> str:
    """`vhub fixtures dump`: the generator's ground truth."""
    from fixtures.records_system.generator import DEFAULT_ANCHOR, generate

    return generate(seed, incidents, anchor or DEFAULT_ANCHOR).to_json()
