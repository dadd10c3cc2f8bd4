"""Notifications to provincial systems: Standard Webhooks over HTTP, one event per call.

The delivery core creates an event, in the same atomic step as the change it reports, whenever an
item of a subscribed client is delivered, dead-lettered or replayed (see ``_prelude.lua``). This
connector posts it to the client's URL as the Standard Webhooks specification describes:
``webhook-id`` (the event's id, the same on every retry and replay, so receivers de-duplicate by
it), ``webhook-timestamp`` (seconds) and ``webhook-signature`` (``v1,<HMAC-SHA256 of
id.timestamp.body>``, one per configured secret, so a client can rotate its secret). A 2xx answer
is delivery; 5xx, 408, 425, 429 and transport failures are retried; any other status is a
permanent refusal (dead letter).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from gateway.connectors._http import status_error, transport_error
from gateway.connectors.base import ChannelSpec, Item, Mode, PeerReply
from gateway.connectors.registry import PeerType
from gateway.connectors.webhook_signing import signature_header
from gateway.errors import PermanentPeerError

__all__ = ["EVENT_CHANNEL", "ORDERED_CHANNEL", "Subscriber", "WebhookConfig", "WebhookConnector"]

SYSTEM = "webhook"
EVENT_CHANNEL = f"{SYSTEM}.event"
ORDERED_CHANNEL = f"{SYSTEM}.ordered"
"""Events that must reach the client in order per subject (a ministry case's status changes):
an append channel, so the core sends one subject's events one after the other. Its subject
names the series, not the event, so the ``webhook-id`` is ``msg_<delivery id>``, which is as
stable across retries and replays as an event channel's subject."""


class Subscriber(BaseModel):
    """One client's webhook: where to post, and the secrets to sign with (newest first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    secrets: tuple[SecretStr, ...] = Field(min_length=1, max_length=2)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local receiver)")
        return value


class WebhookConfig(BaseModel):
    """``[peers.webhook]``: timeouts of webhook calls; subscribers come from ``[[clients]]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect_timeout: float = Field(default=3.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    write_timeout: float = Field(default=10.0, gt=0)
    pool_timeout: float = Field(default=3.0, gt=0)
    batch_size: int = Field(default=1, ge=1, le=50)
    """Events claimed together and posted one after another within one send (each its own
    post). A failure mid-batch sends the whole batch again later, events already posted
    included, under the same ``webhook-id``: receivers that de-duplicate (Standard Webhooks
    asks them to) see each once. Above 1 only for such receivers; the lease must outlast
    ``batch_size`` posts (checked at start-up)."""
    max_connections: int = Field(default=10, ge=1)
    subscribers: dict[str, Subscriber] = Field(default_factory=dict)


def payload(stored: bytes) -> bytes:
    """The JSON body of an event as the receiver gets it, from what the outbox stored."""
    event: dict[str, Any] = orjson.loads(stored)
    kind = event.pop("type", "delivery.unknown")
    at = event.pop("at", None)
    when = datetime.fromtimestamp(int(at) / 1000, tz=UTC) if at is not None else datetime.now(UTC)
    return orjson.dumps({"type": kind, "timestamp": when.isoformat(), "data": event})


class WebhookConnector:
    """Posts events to subscribed clients; thread-safe (one ``httpx.Client``)."""

    system = SYSTEM

    def __init__(
        self,
        config: WebhookConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._clock = clock
        self.channels: tuple[ChannelSpec, ...] = (
            ChannelSpec(SYSTEM, "event", Mode.EVENT, max_batch=config.batch_size),
            # Ordered events: one per claim, as before (batch_size is for the event channel).
            ChannelSpec(SYSTEM, "ordered", Mode.APPEND, max_batch=1),
        )
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=config.connect_timeout,
                read=config.read_timeout,
                write=config.write_timeout,
                pool=config.pool_timeout,
            ),
            limits=httpx.Limits(max_connections=config.max_connections),
            transport=transport,
            follow_redirects=False,
        )

    @property
    def max_call_seconds(self) -> float:
        """One post per event of a batch, every timeout spent."""
        c = self._config
        one = c.connect_timeout + c.write_timeout + c.read_timeout + c.pool_timeout
        return one * c.batch_size

    def subscribers(self) -> list[str]:
        """The clients that have a webhook."""
        return sorted(self._config.subscribers)

    def send(self, channel: ChannelSpec, partition: str, items: Sequence[Item]) -> PeerReply:
        """Post each event (at most ``batch_size``), in order, to client ``partition``'s URL;
        the first failure fails the send."""
        sub = self._config.subscribers.get(partition)
        if sub is None:
            raise PermanentPeerError(
                f"client {partition} has no webhook configured",
                system=SYSTEM,
                operation=channel.operation,
            )
        secrets = [s.get_secret_value() for s in sub.secrets]
        for item in items:
            body = payload(item.body)
            ts = int(self._clock())
            msg_id = item.subject if channel.mode is Mode.EVENT else f"msg_{item.key}"
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": signature_header(secrets, msg_id, ts, body),
            }
            try:
                response = self._client.post(sub.url, content=body, headers=headers)
            except httpx.TransportError as exc:
                raise transport_error(
                    exc, system=SYSTEM, operation=channel.operation, writes=True
                ) from exc
            failure = status_error(
                response, system=SYSTEM, operation=channel.operation, writes=True
            )
            if failure is not None:
                raise failure
        return PeerReply(str(200), "")

    def reconcile(
        self,
        channel: ChannelSpec,
        partition: str,
        subject: str,
        items: Sequence[Item],
        *,
        delivered: Sequence[Item] = (),
    ) -> list[int]:
        """A receiver cannot be asked; it de-duplicates by ``webhook-id``, so resend them all."""
        return list(range(len(items)))

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _build(config: WebhookConfig) -> WebhookConnector:
    return WebhookConnector(config)


PEER = PeerType(SYSTEM, WebhookConfig, _build)
