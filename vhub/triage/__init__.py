"""Triage: risk, reasons, workflows, recipients and deadlines for each incident version."""

from __future__ import annotations

from vhub.triage.config import TriageConfig, load_config
from vhub.triage.history import History, load_history, person_key
from vhub.triage.model import Action, Priority, Problem, Recipient, RiskLevel, TriageResult, Workflow
from vhub.triage.rules import triage

__all__ = [
    "Action",
    "History",
    "Priority",
    "Problem",
    "Recipient",
    "RiskLevel",
    "TriageConfig",
    "TriageResult",
    "Workflow",
    "load_config",
    "load_history",
    "person_key",
    "triage",
]
