"""vhub-rpa: queue-driven bot workers for a police Vulnerability Hub."""

from __future__ import annotations

__version__ = "0.1.0"
