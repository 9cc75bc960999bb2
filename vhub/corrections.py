"""Corrections a person makes to a record, addressed by the field paths validation and triage name.

``people[2].date_of_birth`` addresses the same field in the raw record the bot read, in a stored
incident's JSON, and in a validation reason, so one small set of helpers serves every correction.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from vhub.errors import InvalidRecord
from vhub.models import Incident, validate_incident

_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    return [int(index) if index else key for key, index in _PART.findall(path)]


def get_path(data: Any, path: str) -> Any:
    node = data
    for part in split_path(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = split_path(path)
    node: Any = data
    for part, following in zip(parts, parts[1:], strict=False):
        if isinstance(part, int):
            node = node[part]
            continue
        if node.get(part) is None:
            node[part] = [] if isinstance(following, int) else {}
        node = node[part]
    node[parts[-1]] = value


def reason_paths(reasons: list[str]) -> list[str]:
    """The field paths at the start of validation reasons (``people[2].date_of_birth: is ...``)."""
    paths = []
    for reason in reasons:
        head, sep, _ = reason.partition(": ")
        if sep and _PART.fullmatch(head.split(".")[0].split("[")[0]) and head not in paths:
            paths.append(head)
    return paths


def require_values(typed: dict[str, str]) -> dict[str, str]:
    """The corrections a person typed, each field filled in. A blank is no correction (it would turn a
    wrong value into a missing one): InvalidRecord naming each blank field; resolving by hand is the way."""
    blank = [path for path, value in typed.items() if not value.strip()]
    if blank:
        reasons = [
            f"{path}: is blank: type the corrected value, or resolve the item by hand with a note" for path in blank
        ]
        raise InvalidRecord("The correction leaves a field blank: " + "; ".join(reasons), reasons)
    return {path: value.strip() for path, value in typed.items()}


def corrected(raw: dict[str, Any], corrections: dict[str, Any]) -> dict[str, Any]:
    fixed = copy.deepcopy(raw)
    for path, value in corrections.items():
        set_path(fixed, path, value)
    return fixed


def apply_to_incident(incident: Incident, corrections: dict[str, Any]) -> Incident:
    """The incident as VHub corrected it (the stored version stays as the records system has it)."""
    if not corrections:
        return incident
    return validate_incident(corrected(incident.model_dump(mode="json"), corrections))
