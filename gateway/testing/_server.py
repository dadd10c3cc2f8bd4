"""Serve a :class:`~gateway.testing.fake_portal.FakePortal` over real HTTP on loopback.

The HTTP server is the sandbox's (:class:`~gateway.sandbox.server.SimulatorServer`); this module
adapts the fake portal's raw-request interface to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.connectors.dvcqg import DvcqgConfig
from gateway.sandbox.base import Answer
from gateway.sandbox.server import SimulatorServer
from gateway.testing.fake_portal import FakePortal

__all__ = ["FakePortalServer"]


class _AsSimulator:
    """The fake portal seen as a sandbox simulator (its ledger: what it holds, its calls)."""

    name = "fake-portal"

    def __init__(self, portal: FakePortal) -> None:
        self.portal = portal

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        a = self.portal.handle(method, path, headers.get("dstcode"), body)
        return Answer(a.status, a.body, a.headers, "drop" if a.disconnect else "answer")

    def ledger(self) -> dict[str, Any]:
        dossiers = self.portal.dossiers
        return {
            "simulator": self.name,
            "dossiers": {
                n: {"state": d, "steps": self.portal.steps(n)} for n, d in dossiers.items()
            },
            "calls": len(self.portal.calls),
            "logins": self.portal.logins,
        }

    def reset(self) -> None:
        self.portal.reset()


class FakePortalServer(SimulatorServer):
    """Runs a fake portal on ``127.0.0.1`` (a free port unless ``port`` is given) in a thread.

    Use as a context manager; ``url`` is the base URL and :meth:`config` a matching
    :class:`DvcqgConfig`. Opens a real socket: tests need ``@pytest.mark.network``.
    """

    def __init__(
        self, portal: FakePortal | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.portal = portal if portal is not None else FakePortal()
        super().__init__(_AsSimulator(self.portal), host=host, port=port)

    def config(self, **overrides: Any) -> DvcqgConfig:
        """A connector config pointing at this server with the portal's credentials."""
        return self.portal.connector_config(self.url, **overrides)
