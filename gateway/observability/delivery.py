"""The correlation id on the delivery side: bound around each peer call from the items' ``cid``.

The intake stores the request's correlation id in each new item's hash (``<ns>:rec:<id>``,
field ``cid``). :class:`CorrelatedConnector` wraps a connector for its engine: before a send or
reconcile it reads the items' ids in one pipelined round trip and binds them (comma-separated,
at most :data:`MAX_IDS`), so the audit transport puts them on the outbound request's
``X-Correlation-ID`` header and in the exchange's audit entry. A webhook event carries the
correlation id of the delivery it reports (its ``delivery_id``).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import redis

from gateway.connectors.base import ChannelSpec, Connector, ConnectorWrapper, Item, Mode, PeerReply
from gateway.observability.correlation import bind

__all__ = ["MAX_IDS", "CorrelatedConnector", "correlation_ids"]

MAX_IDS = 8
"""Distinct ids sent per call (a batch usually comes from one or a few intake requests)."""


def _delivery_of(body: bytes) -> str | None:
    if len(body) > 4096:
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    # Stored events name it at the top; the body a receiver gets has it under "data".
    data = doc.get("data")
    value = doc.get("delivery_id") or (data.get("delivery_id") if isinstance(data, dict) else None)
    return value if isinstance(value, str) else None


def correlation_ids(
    client: redis.Redis, namespace: str, items: Sequence[Item], *, events: bool = False
) -> str | None:
    """The distinct stored correlation ids of ``items``, joined by commas (None when none).

    ``events``: items are webhook events, which take the id of the delivery they report. An
    item's ``cid`` read with its claim is used as it is; Redis is asked only about the others
    (and about events stored without one, from before events carried it).
    """
    found: list[str | None] = [it.cid or None for it in items]
    unread = [i for i, it in enumerate(items) if it.cid is None]
    if unread:
        pipe = client.pipeline(transaction=False)
        for i in unread:
            pipe.hget(f"{namespace}:rec:{items[i].key}", "cid")
        for i, cid in zip(unread, pipe.execute(), strict=True):
            found[i] = cid.decode() if cid is not None else None
    missing: list[tuple[int, str]] = []
    if events:
        for i, (item, cid) in enumerate(zip(items, found, strict=True)):
            if cid is None and (delivery := _delivery_of(item.body)) is not None:
                missing.append((i, delivery))
    if missing:
        pipe = client.pipeline(transaction=False)
        for _, delivery in missing:
            pipe.hget(f"{namespace}:rec:{delivery}", "cid")
        for (i, _), cid in zip(missing, pipe.execute(), strict=True):
            found[i] = cid.decode() if cid is not None else None
    ids: list[str] = []
    for cid in found:
        if cid is not None and cid not in ids:
            ids.append(cid)
            if len(ids) == MAX_IDS:
                break
    return ",".join(ids) or None


class CorrelatedConnector(ConnectorWrapper):
    """``inner`` with the items' correlation ids bound around each call; otherwise the same."""

    def __init__(self, inner: Connector, client: redis.Redis, namespace: str) -> None:
        super().__init__(inner)
        self._client = client
        self._ns = namespace

    def send(self, channel: ChannelSpec, partition: str, items: Sequence[Item]) -> PeerReply:
        """:meth:`Connector.send` with the items' correlation ids bound."""
        events = channel.mode is Mode.EVENT
        with bind(correlation_ids(self._client, self._ns, items, events=events)):
            return self.inner.send(channel, partition, items)

    def reconcile(
        self,
        channel: ChannelSpec,
        partition: str,
        subject: str,
        items: Sequence[Item],
        *,
        delivered: Sequence[Item] = (),
    ) -> Sequence[int]:
        """:meth:`Connector.reconcile` with the items' correlation ids bound."""
        events = channel.mode is Mode.EVENT
        with bind(correlation_ids(self._client, self._ns, items, events=events)):
            return self.inner.reconcile(channel, partition, subject, items, delivered=delivered)
