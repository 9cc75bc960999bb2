"""Which partner portal each approved draft goes to (config/portals.toml), and pausing a portal.

A portal is paused when its pages changed (selector drift met during a run): its submissions wait
instead of burning retries, an alert is raised, and `vhub portals resume NAME` (after the selectors
file is fixed and `vhub selectors check` passes) sends what waited.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from redis import Redis

from vhub.errors import ConfigurationError
from vhub.settings import PROJECT_ROOT, Settings

PORTALS_FILE = PROJECT_ROOT / "config" / "portals.toml"
_PAUSED = "vhub:paused-portal:{}"


@cache
def load_routes(path: Path = PORTALS_FILE) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"{path} cannot be read: {error}") from None


def portal_for(workflow: str, recipient: dict[str, Any], path: Path = PORTALS_FILE) -> str:
    """The portal a draft of ``workflow`` to ``recipient`` is posted to."""
    routes = load_routes(path)
    if workflow == "referral":
        authority = recipient.get("authority")
        entry = routes.get("referral", {}).get(authority or "")
        if not entry:
            raise ConfigurationError(
                f"{path} has no [referral.{authority}] entry: add the authority's portal (runbooks/"
                "adding-an-authority.md) before its referrals can be sent."
            )
        return str(entry["portal"])
    entry = routes.get(workflow)
    if not entry or "portal" not in entry:
        raise ConfigurationError(f"{path} has no [{workflow}] entry naming the portal its drafts go to.")
    return str(entry["portal"])


def children_per_referral(authority: str, path: Path = PORTALS_FILE) -> int | None:
    """The most children one referral to ``authority`` may name (its ``children_per_referral`` key): 1 for a
    portal that takes one child per referral. None: all the authority's children of an incident in one."""
    entry = load_routes(path).get("referral", {}).get(authority)
    value = entry.get("children_per_referral") if isinstance(entry, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"{path} [referral.{authority}] children_per_referral must be a whole number, 1 or more (1: one child "
            "per referral), or left out (all the children in one referral)."
        )
    return value


def portal_names(path: Path = PORTALS_FILE) -> list[str]:
    """Every portal config/portals.toml routes drafts to."""
    routes = load_routes(path)
    names = [entry["portal"] for entry in routes.get("referral", {}).values() if "portal" in entry]
    names += [entry["portal"] for key, entry in routes.items() if key != "referral" and "portal" in entry]
    return sorted(set(names))


def external_systems(path: Path = PORTALS_FILE) -> list[str]:
    """Every external system vhub talks to: the records system, the ISR portal and each routed portal."""
    return list(dict.fromkeys(["records_system", "isr_portal", *portal_names(path)]))


def require_configured(settings: Settings, path: Path = PORTALS_FILE) -> None:
    """Stop start-up, naming every missing setting, unless each external system has a URL and an account."""
    missing = settings.unconfigured(external_systems(path))
    if missing:
        raise ConfigurationError(
            f"These settings are not set, so vhub will not start ({settings.mode} mode): {', '.join(missing)}. "
            "Every system config/portals.toml routes drafts to needs its URL, username and password (in the "
            "environment or .env). To rehearse on the simulated systems instead, run `vhub demo` or "
            "`vhub up --simulate`.",
            code="not_configured",
        )


def pause(connection: Redis, portal: str, reason: str) -> bool:
    """Pause a portal; True if it was running."""
    return bool(connection.set(_PAUSED.format(portal), reason, nx=True))


def resume(connection: Redis, portal: str) -> bool:
    return bool(connection.delete(_PAUSED.format(portal)))


def paused(connection: Redis, portal: str) -> str | None:
    value = connection.get(_PAUSED.format(portal))
    return value.decode() if isinstance(value, bytes) else value


def all_paused(connection: Redis) -> dict[str, str]:
    found = {}
    for key in connection.scan_iter(_PAUSED.format("*")):
        name = key.decode() if isinstance(key, bytes) else key
        reason = connection.get(name)
        found[name.rsplit(":", 1)[-1]] = reason.decode() if isinstance(reason, bytes) else str(reason)
    return found


def paused_of(connection: Redis, names: list[str]) -> dict[str, str]:
    """Which of these portals are paused, and why, in one round trip (no scan of Redis's keys: a page asks)."""
    if not names:
        return {}
    reasons = connection.mget([_PAUSED.format(name) for name in names])
    return {
        name: reason.decode() if isinstance(reason, bytes) else str(reason)
        for name, reason in zip(names, reasons, strict=True)
        if reason is not None
    }
