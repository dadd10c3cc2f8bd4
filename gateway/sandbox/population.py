"""The population database simulator (:mod:`gateway.testing.population`) as a sandbox peer.

Both profiles at once: LGSP JSON (token, then the look-up) and plain SOAP, with citizens from
the shipped seed file. Its ledger counts calls by profile and outcome; ID numbers in it are
masked, as everywhere else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from gateway.sandbox.base import Answer
from gateway.testing.population import PopulationSimulator

__all__ = ["PopulationPeer"]


class PopulationPeer:
    """Adapts :class:`PopulationSimulator` to the sandbox's :class:`Simulator` protocol."""

    name = "population"

    def __init__(self, simulator: PopulationSimulator | None = None) -> None:
        self.simulator = simulator or PopulationSimulator.from_seed()

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request (the simulator answers in the sandbox's own terms)."""
        return self.simulator.handle(method, path, headers, body)

    def ledger(self) -> dict[str, Any]:
        """Every call (numbers masked), and counts by profile and outcome."""
        calls = self.simulator.calls
        outcomes = Counter(f"{c.profile}:{c.outcome}" for c in calls)
        return {
            "calls": [
                {
                    "profile": c.profile,
                    "operation": c.operation,
                    "id_number": c.id_number,
                    "status": c.status,
                    "outcome": c.outcome,
                }
                for c in calls
            ],
            "outcomes": dict(outcomes),
        }

    def reset(self) -> None:
        """Clear pending faults (the call log is the simulator's own and stays)."""
        self.simulator.clear_faults()
