"""Connectors: one module per external system, all reached through one small interface.

The delivery pipeline only knows :class:`DeliveryConnector` (send a batch, ask what the peer
holds, close) and :class:`PeerReply`; each connector translates its peer's transport and protocol
failures into :mod:`gateway.errors` at the boundary.
"""

from gateway.connectors.base import DeliveryConnector, PeerReply
from gateway.connectors.dvcqg import DvcqgConfig, DvcqgConnector

__all__ = ["DeliveryConnector", "DvcqgConfig", "DvcqgConnector", "PeerReply"]
