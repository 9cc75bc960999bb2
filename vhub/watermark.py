"""How far a source system may be considered read.

The watermark may pass an incident version only once it and every version changed before it are
safely handled (stored, already stored, or held as a data-quality item). A version still pending or
failed holds the watermark back, so the next scan (which is inclusive) finds it again. The store
(vhub/store/runs.py) applies the rule with indexed lookups, never by loading a run's versions.
"""

from __future__ import annotations

DONE = ("stored", "unchanged", "invalid", "discarded")
"""What became of a version that is safely handled (``discarded``: an admin discarded its failed ingest, and it
waits as a data-quality item for a person)."""

OPEN = ("pending", "failed")
"""A version still to be read (``pending``), or whose ingest failed for good until it is replayed (``failed``)."""
