"""Bulk actions of the review queue: approve green Operation Encompass notices (when policy allows it), return
drafts for a data fix with one reason, assign items to someone.

Each item is decided in its own transaction through the same rules as on its page (vhub/review/decisions.py: the
version the person saw, claims, four eyes), so one refusal stops nothing else, and each is audited as that
person's own decision. The outcome says what was done and what was refused, and why.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from vhub.context import AppContext
from vhub.errors import BusinessError
from vhub.review.accounts import User
from vhub.review.assignment import Kind, assign
from vhub.review.decisions import approve, return_for_fix
from vhub.review.record_ids import record_id
from vhub.store.tables import DraftRow

ACTIONS = {"approve": "Approve", "return": "Return for a data fix", "assign": "Assign"}


def bulk_approval_allowed(path: Path) -> bool:
    """Whether policy (``review_policy``, config/review.toml: ``[bulk] approve_green_encompass``) allows approving
    green Operation Encompass notices in bulk; off when the file or the setting is missing."""
    if not path.exists():
        return False
    try:
        with path.open("rb") as handle:
            value = tomllib.load(handle).get("bulk", {}).get("approve_green_encompass", False)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BusinessError(f"{path} cannot be read ({error}).", code="bad_config") from error
    if not isinstance(value, bool):
        raise BusinessError(
            f"{path}: [bulk] approve_green_encompass must be true or false, not {value!r}.", code="bad_config"
        )
    return value


@dataclass(frozen=True)
class Selected:
    """A row ticked in the queue, at the version the person saw: ``draft:12:3``."""

    kind: str
    id: int
    row_version: int

    @property
    def label(self) -> str:
        return f"Draft #{self.id}" if self.kind == "draft" else f"Data-quality item #{self.id}"


def parse_selected(values: list[str]) -> list[Selected]:
    """The ticked rows; anything not of the form the queue writes is ignored."""
    chosen: dict[tuple[str, int], Selected] = {}
    for value in values:
        kind, _, rest = value.partition(":")
        number, _, version = rest.partition(":")
        row_id, row_version = record_id(number), record_id(version, smallest=0)
        if kind in ("draft", "data_quality") and row_id is not None and row_version is not None:
            chosen.setdefault((kind, row_id), Selected(kind, row_id, row_version))
    return list(chosen.values())


@dataclass
class Outcome:
    action: str
    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (item, why)


def _approvable(draft: DraftRow | None) -> str | None:
    """Why this draft is never approved in bulk, or None."""
    if draft is None:
        return "it no longer exists."
    if draft.workflow != "encompass" or draft.risk != "green":
        risk = draft.risk or "no"
        return f"only green Operation Encompass notices are approved in bulk; this is {risk} risk. Open it to decide."
    if draft.needs_attention:
        return "it is flagged for a look (" + (draft.attention_reason or "see its page") + "). Open it to decide."
    return None


def run(
    ctx: AppContext,
    action: str,
    selected: list[Selected],
    user: User,
    *,
    now: datetime,
    reason: str = "",
    owner: User | None = None,
) -> Outcome:
    """Apply ``action`` to each selected row in its own transaction; every refusal is kept with its reason."""
    outcome = Outcome(action)
    if not selected:
        raise BusinessError("Tick at least one item in the list first.", code="nothing_selected")
    if action == "approve" and not bulk_approval_allowed(ctx.settings.review_policy):
        raise BusinessError(
            "Approving several notices at once is turned off by policy (config/review.toml). Open each draft to "
            "approve it.",
            code="bulk_approval_off",
        )
    if action == "return" and not reason.strip():
        raise BusinessError(
            "Say what needs fixing in the source data: the reason is kept with each returned draft.",
            code="reason_required",
        )
    if action not in ACTIONS:
        raise BusinessError("Choose what to do with the ticked items.", code="unknown_action")
    for item in selected:
        try:
            with ctx.db.session() as session:
                if action == "assign":
                    kind: Kind = "draft" if item.kind == "draft" else "data_quality"
                    changed = assign(session, kind, item.id, user, owner)
                    if not changed:
                        outcome.refused.append(
                            (item.label, f"it is already {owner.display_name if owner else 'nobody'}'s.")
                        )
                        continue
                elif item.kind != "draft":
                    raise BusinessError("a data-quality item is corrected or resolved on its own page.")
                elif action == "approve":
                    if why := _approvable(session.get(DraftRow, item.id)):
                        raise BusinessError(why)
                    approve(
                        session,
                        item.id,
                        user,
                        item.row_version,
                        now=now,
                        jobs=ctx.jobs,
                        second_approver_for_red=ctx.settings.review_second_approver_for_red,
                        bulk=True,
                    )
                else:
                    return_for_fix(session, item.id, user, item.row_version, reason, now=now)
            outcome.done.append(item.label)
        except BusinessError as error:
            outcome.refused.append((item.label, error.message))
    return outcome
