"""The peers the gateway can deliver to: a name, a config model and a factory per peer type.

Adding a peer is one connector module that defines ``PEER = PeerType(...)``, its name added to
:data:`MODULES`, and a ``[peers.<name>]`` section in the configuration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gateway.connectors.base import Connector

__all__ = ["MODULES", "PeerType", "peer_types"]

MODULES = ("gateway.connectors.dvcqg", "gateway.connectors.webhook")
"""Connector modules that define a ``PEER``."""


@dataclass(frozen=True)
class PeerType:
    """A kind of peer: its section name, its config model and how to build its connector."""

    name: str
    config: type[BaseModel]
    build: Callable[[Any], Connector]


def peer_types() -> dict[str, PeerType]:
    """Every registered peer type by name."""
    out: dict[str, PeerType] = {}
    for module in MODULES:
        peer: PeerType = importlib.import_module(module).PEER
        out[peer.name] = peer
    return out
