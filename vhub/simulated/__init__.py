"""Code that runs only on request, never in a live deployment: the simulated systems, the demo, the bench.

This package is the one place the product reaches into fixtures/ (the simulated systems and their
synthetic data); everything else in vhub/, bots/ and tasks/ imports neither, and a test keeps it so. The
CLI imports it only for `vhub demo`, `vhub up --simulate`, `vhub fixtures` and `vhub bench`.
"""

from __future__ import annotations

from vhub.simulated.systems import Simulators, simulated_system

__all__ = ["Simulators", "simulated_system"]
