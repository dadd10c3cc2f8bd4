"""Connectors: one module per external system, all reached through one small interface.

The delivery core only knows :class:`Connector` (declare channels, send a batch, reconcile after
an ambiguous failure, close), :class:`ChannelSpec` and :class:`PeerReply`; each connector
translates its peer's transport and protocol failures into :mod:`gateway.errors` at the
boundary, and registers itself in :mod:`.registry`.
"""

from gateway.connectors.base import ChannelSpec, Connector, Entry, Item, Mode, PeerReply
from gateway.connectors.dvcqg import DvcqgConfig, DvcqgConnector, Service
from gateway.connectors.registry import PeerType, peer_types
from gateway.connectors.webhook import Subscriber, WebhookConfig, WebhookConnector

__all__ = [
    "ChannelSpec",
    "Connector",
    "DvcqgConfig",
    "DvcqgConnector",
    "Entry",
    "Item",
    "Mode",
    "PeerReply",
    "PeerType",
    "Service",
    "Subscriber",
    "WebhookConfig",
    "WebhookConnector",
    "peer_types",
]
