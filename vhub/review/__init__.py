"""The human review queue: a web app where VHub staff approve, edit or reject bot drafts."""

from __future__ import annotations

from vhub.review.app import create_app

__all__ = ["create_app"]
