"""One span per peer call of the delivery engine, when traces are on.

:class:`TracedConnector` wraps a connector, inside
:class:`~gateway.observability.delivery.CorrelatedConnector`, so the items' correlation ids are
bound when the span starts. Each ``send`` (one batch, one peer call) is a client span
``deliver <channel>``; each ``reconcile`` (the look-up after an ambiguous failure) is
``reconcile <channel>``. Attributes: peer, channel, batch size, outcome class, and the
correlation ids (``gateway.correlation_id``, comma-separated as on the outbound header).

Across the queue, :class:`TraceLinks` keeps the intake request's ``traceparent`` by its
correlation id (``<ns>:trace:<cid>``, one write per accept call, expiring after
:data:`TRACE_TTL_SECONDS`); the delivery span reads those of its items' ids (one round trip per
call) and links to each. The outbox itself stores nothing more. A correlation id a caller
reuses for several requests links to the latest of them.

Nothing of the items themselves (bodies, subjects, keys) goes on a span.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis

from gateway.connectors.base import ChannelSpec, Connector, ConnectorWrapper, Item, PeerReply
from gateway.errors import PermanentPeerError, TransientPeerError
from gateway.observability.correlation import current
from gateway.observability.traces import CORRELATION_ATTRIBUTE, Attribute, Span, Tracing
from gateway.pipeline.keys import Keys

__all__ = ["TRACE_TTL_SECONDS", "TraceLinks", "TracedConnector", "outcome_class"]

TRACE_TTL_SECONDS = 7 * 24 * 3600
"""How long an intake request's traceparent is kept for its deliveries to link to (retries of
a peer that is down for days still link; later ones carry the correlation id alone)."""


class TraceLinks:
    """Intake requests' ``traceparent`` by correlation id, for the delivery spans to link to."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self.client = client
        self.keys = Keys(namespace)

    def keep(self, cid: str, traceparent: str) -> None:
        """Remember the request's ``traceparent`` under its correlation id."""
        self.client.set(self.keys.trace(cid), traceparent, ex=TRACE_TTL_SECONDS)

    def of(self, cids: str | None) -> list[str]:
        """The kept ``traceparent`` values of ``cids`` (comma-separated, as bound)."""
        if not cids:
            return []
        found = self.client.mget([self.keys.trace(c) for c in cids.split(",")])
        return [v if isinstance(v, str) else v.decode() for v in found if v is not None]


def outcome_class(exc: BaseException | None) -> str:
    """``delivered``, ``transient``, ``ambiguous`` or ``permanent`` (``error`` otherwise): how
    the engine settles the call."""
    if exc is None:
        return "delivered"
    if isinstance(exc, TransientPeerError):
        return "ambiguous" if exc.ambiguous else "transient"
    if isinstance(exc, PermanentPeerError):
        return "permanent"
    return "error"


class TracedConnector(ConnectorWrapper):
    """``inner`` with a span around each call; otherwise the same."""

    def __init__(self, inner: Connector, tracing: Tracing, links: TraceLinks) -> None:
        super().__init__(inner)
        self._tracing = tracing
        self._links = links

    @contextmanager
    def _span(self, operation: str, channel: ChannelSpec, items: Sequence[Item]) -> Iterator[Span]:
        """A ``<operation> <channel>`` client span; a call that raises ends it with its class."""
        attributes: dict[str, Attribute] = {
            "gateway.peer": self.inner.system,
            "gateway.channel": channel.id,
            "gateway.batch.size": len(items),
        }
        cid = current()
        if cid is not None:
            attributes[CORRELATION_ATTRIBUTE] = cid
        name = f"{operation} {channel.id}"
        with self._tracing.client_span(name, attributes, self._links.of(cid)) as span:
            try:
                yield span
            except BaseException as exc:
                _outcome(span, exc)
                raise

    def send(self, channel: ChannelSpec, partition: str, items: Sequence[Item]) -> PeerReply:
        """:meth:`Connector.send` in a ``deliver <channel>`` span."""
        with self._span("deliver", channel, items) as span:
            reply = self.inner.send(channel, partition, items)
            _outcome(span, None)
            return reply

    def reconcile(
        self,
        channel: ChannelSpec,
        partition: str,
        subject: str,
        items: Sequence[Item],
        *,
        delivered: Sequence[Item] = (),
    ) -> Sequence[int]:
        """:meth:`Connector.reconcile` in a ``reconcile <channel>`` span."""
        with self._span("reconcile", channel, items) as span:
            lacking = self.inner.reconcile(channel, partition, subject, items, delivered=delivered)
            span.set_attribute("gateway.outcome", "answered")
            span.set_attribute("gateway.lacking", len(lacking))
            return lacking


def _outcome(span: Span, exc: BaseException | None) -> None:
    span.set_attribute("gateway.outcome", outcome_class(exc))
