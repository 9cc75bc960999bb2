"""Editing a pydantic model through a plain HTML form, validated by the same model.

Inputs are named by the paths validation errors use (``children[0].date_of_birth``), so an error lands
beside its field and every other value the person typed is shown again as typed.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from vhub.models import LONDON, LONG_TEXT_MAX, describe_validation_error

LONG_TEXT = {"narrative", "what", "child_whereabouts_and_condition", "alleged_perpetrator", "address", "text"}
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")  # what a datetime-local input sends
FOLDED = {"referrer": "The same on every referral (config/drafting.toml)"}
"""Top-level groups shown folded (details/summary) unless one of their fields has an error: boilerplate a reviewer
rarely changes, kept out of the way of what they must read. Folded fields are still in the form and still sent."""


@dataclass
class FormField:
    path: str
    label: str
    kind: str  # group, list, text, textarea, date, datetime, number, choice
    value: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    required: bool = False
    error: str | None = None
    children: list[FormField] = field(default_factory=list)
    folded: str | None = None  # why the group is folded (see FOLDED); None: shown open

    @property
    def has_error(self) -> bool:
        return bool(self.error) or any(child.has_error for child in self.children)

    @property
    def summary(self) -> str:
        """The group's values on one line, for its folded summary."""
        return ", ".join(leaf.value for _, leaf in leaves(self.children) if leaf.value)


@dataclass(frozen=True)
class Difference:
    """One field whose value the person typed is not the value now stored."""

    path: str
    label: str  # with the groups it sits in: "Children referred 1 › Date of birth"
    typed: str
    stored: str


def leaves(fields: list[FormField], trail: str = "") -> Iterator[tuple[str, FormField]]:
    """Every input of ``fields`` with its label in context, in form order."""
    for item in fields:
        label = f"{trail} › {item.label}" if trail else item.label
        if item.kind in ("group", "list"):
            yield from leaves(item.children, label)
        else:
            yield label, item


def differences(model: type[BaseModel], typed: dict[str, Any], stored: dict[str, Any]) -> list[Difference]:
    """Where what the person typed differs from what is stored, field by field, as the form shows them."""
    theirs = {item.path: item.value for _, item in leaves(build_fields(model, stored, {}))}
    return [
        Difference(item.path, label, item.value, theirs.get(item.path, ""))
        for label, item in leaves(build_fields(model, typed, {}))
        if item.value != theirs.get(item.path, "")
    ]


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``X | None`` and whether None is allowed (also through Annotated)."""
    if hasattr(annotation, "__metadata__"):
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        inner, _ = _unwrap(args[0]) if len(args) == 1 else (annotation, False)
        return inner, True
    return annotation, False


def _kind(annotation: Any, name: str) -> tuple[str, list[tuple[str, str]]]:
    if annotation is bool:
        return "choice", [("yes", "Yes"), ("no", "No")]
    if annotation is date:
        return "date", []
    if annotation is datetime:
        return "datetime", []
    if annotation is int:
        return "number", []
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "choice", [(member.value, str(member.value)) for member in annotation]
    if get_origin(annotation) is Literal:
        return "choice", [(str(v), str(v)) for v in get_args(annotation)]
    return ("textarea" if name in LONG_TEXT else "text"), []


def _display(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "datetime" and isinstance(value, str) and value:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M:%S") if moment.tzinfo else value[:19]
    # A refused paste far over the limit comes back cut just past it: still marked too long, but the page
    # stays light enough for a browser to show.
    return str(value.value if isinstance(value, Enum) else value)[: LONG_TEXT_MAX + 1]


def build_fields(
    model: type[BaseModel], data: dict[str, Any], errors: dict[str, str], prefix: str = ""
) -> list[FormField]:
    """The form's fields for ``model`` filled from ``data`` (a model dump, or what the person typed)."""
    fields = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        label = info.title or name.replace("_", " ").capitalize()
        annotation, optional = _unwrap(info.annotation)
        value = data.get(name) if isinstance(data, dict) else None
        if (
            get_origin(annotation) is list
            and isinstance(get_args(annotation)[0], type)
            and issubclass(get_args(annotation)[0], BaseModel)
        ):
            item_model = get_args(annotation)[0]
            items = value if isinstance(value, list) else []
            children = [
                FormField(
                    f"{path}[{i}]",
                    f"{label} {i + 1}",
                    "group",
                    children=build_fields(item_model, item or {}, errors, f"{path}[{i}]."),
                )
                for i, item in enumerate(items)
            ]
            fields.append(FormField(path, label, "list", children=children, error=errors.get(path)))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields.append(
                FormField(
                    path,
                    label,
                    "group",
                    children=build_fields(annotation, value or {}, errors, f"{path}."),
                    error=errors.get(path),
                    folded=FOLDED.get(path),
                )
            )
        else:
            kind, choices = _kind(annotation, name)
            if kind == "choice" and optional:
                choices = [("", "Not recorded"), *choices]
            fields.append(
                FormField(
                    path,
                    label,
                    kind,
                    _display(value, kind),
                    choices,
                    required=info.is_required() and not optional,
                    error=errors.get(path),
                )
            )
    return fields


def _convert(model: type[BaseModel], raw: dict[str, Any]) -> dict[str, Any]:
    """Turn the form's strings into what the model expects (blank -> None, yes/no -> bool, local time -> UTC)."""
    result: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in raw:
            continue
        value = raw[name]
        annotation, optional = _unwrap(info.annotation)
        if (
            get_origin(annotation) is list
            and isinstance(get_args(annotation)[0], type)
            and issubclass(get_args(annotation)[0], BaseModel)
        ):
            item_model = get_args(annotation)[0]
            items = value if isinstance(value, dict) else {}
            result[name] = [_convert(item_model, items[i]) for i in sorted(items)]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            given = value if isinstance(value, dict) else {}
            # An optional group left wholly blank (no address recorded) is absent, not an empty address.
            result[name] = None if optional and not _any_value(given) else _convert(annotation, given)
        elif isinstance(value, str) and not value.strip() and optional:
            result[name] = None
        elif annotation is bool and isinstance(value, str):
            result[name] = {"yes": True, "no": False}.get(value, value)
        elif annotation is datetime and isinstance(value, str) and _LOCAL.fullmatch(value):
            result[name] = datetime.fromisoformat(value).replace(tzinfo=LONDON).astimezone(UTC).isoformat()
        else:
            result[name] = value
    return result


def _any_value(data: Any) -> bool:
    if isinstance(data, dict):
        return any(_any_value(value) for value in data.values())
    return isinstance(data, str) and bool(data.strip())


def parse_form(model: type[BaseModel], items: list[tuple[str, str]]) -> dict[str, Any]:
    """Nest ``children[0].forename=...`` pairs and convert them for ``model``; unknown names are ignored."""
    nested: dict[Any, Any] = {}
    for name, raw_value in items:
        value = raw_value.replace("\r\n", "\n")  # browsers send text areas with CRLF line ends
        parts = [int(index) if index else key for key, index in _PATH_PART.findall(name)]
        if not parts:
            continue
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _convert(model, nested)


def describe_errors(model: type[BaseModel], error: ValidationError) -> dict[str, str]:
    """Field path -> a plain message naming the field by its label (``Date of birth: is in the future``)."""
    if hasattr(model, "describe_errors"):
        return dict(model.describe_errors(error))
    messages: dict[str, str] = {}
    for reason in describe_validation_error(error):
        path, _, problem = reason.partition(": ")
        label = path.rsplit(".", 1)[-1].split("[")[0].replace("_", " ").capitalize()
        messages[path] = f"{label} {problem}" if problem else reason
    return messages
