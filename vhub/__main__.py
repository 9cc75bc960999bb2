"""`python -m vhub` is the `vhub` command (the stack starts its children this way)."""

from __future__ import annotations

import sys

from vhub.cli import main

sys.exit(main())
