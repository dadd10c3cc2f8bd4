"""What the delivery core needs to know about each peer besides its connector's own settings.

Every peer has one section of configuration, ``[peers.<name>]``: the connector's fields (URL,
credentials, timeouts, batch size …) plus the keys below, which the core takes out first.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.pipeline.breaker import BreakerConfig
from gateway.pipeline.retry import RetryPolicy

__all__ = ["DELIVERY_KEYS", "PeerDelivery", "split_section"]


class PeerDelivery(BaseModel):
    """How the core delivers to one peer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retry: RetryPolicy | None = None
    """``None``: the gateway-wide ``[retry]`` policy."""
    breaker: BreakerConfig = BreakerConfig()
    concurrency: int | None = Field(None, ge=1, le=64)
    """Worker threads for this peer in each worker process (``None``: ``[worker] threads``)."""


DELIVERY_KEYS = frozenset(PeerDelivery.model_fields)


def split_section(section: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A peer section split into (the connector's fields, the core's :class:`PeerDelivery`)."""
    connector = {k: v for k, v in section.items() if k not in DELIVERY_KEYS}
    delivery = {k: v for k, v in section.items() if k in DELIVERY_KEYS}
    return connector, delivery
