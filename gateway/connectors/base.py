"""The one interface the delivery core uses to reach any peer, and the channels peers declare.

A **channel** is (peer, operation, mode). A connector declares its channels, as an httpx client
mounts transports; the core keys everything (outbox, claims, leases, dead letters, metrics, API
filters) by channel id and never names a peer or an operation itself. Modes:

- :attr:`Mode.LATEST`: a full-state upsert; only the newest accepted state of a subject must reach
  the peer (DVCQG ``DongBoHoSoMC``). Sending the same state twice has one effect.
- :attr:`Mode.APPEND`: each item exactly once, in order per subject, optionally only after another
  channel's subject exists at the peer (``CapNhatTienDoHoSoMC`` after ``DongBoHoSoMC``).
- :attr:`Mode.EVENT`: independent items, each with its own idempotency key (webhooks).

A new peer is one module whose connector satisfies :class:`Connector`, registered with
:func:`gateway.connectors.registry.register`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

__all__ = ["ChannelSpec", "Connector", "ConnectorWrapper", "Entry", "Item", "Mode", "PeerReply"]


class Mode(StrEnum):
    """How a channel's items relate to each other (see the module docs)."""

    LATEST = "latest"
    APPEND = "append"
    EVENT = "event"


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel of a peer.

    ``operation`` is the peer's own name for it (``DongBoHoSoMC``); ``after`` is the id of the
    channel whose subject must exist at the peer before this channel's items go (steps after
    their dossier); ``max_batch`` is the most items one :meth:`Connector.send` carries, and the
    core never passes more, so one send is one peer call and a failure never hides a partial
    success.
    """

    peer: str
    operation: str
    mode: Mode
    max_batch: int = 1
    after: str | None = None
    guarded: bool = False
    """Items carry a status whose changes the configured life cycle must allow."""

    @property
    def id(self) -> str:
        """The stable channel id, ``<peer>.<operation>``, used in keys, metrics and the API."""
        return f"{self.peer}.{self.operation}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One item to store on a channel, as a connector module builds it from a record.

    ``fingerprint`` is what makes a repeat a duplicate (for an event: its idempotency key);
    ``order`` orders items of one subject (an append channel refuses one older than the newest
    accepted; a latest-state channel one older than its accepted state); ``status`` is checked
    against the life cycle on guarded channels; ``flags`` are intake rules the record raised.
    """

    subject: str
    fingerprint: str
    body: bytes
    order: int = 0
    status: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Item:
    """One stored item on its way to a peer.

    ``key`` is the item's idempotency key (its delivery id), stable across retries and replays;
    ``body`` the stored JSON, passed as it was accepted (wrap it in ``orjson.Fragment`` to embed
    it without decoding); ``exists`` is true when the subject has already been delivered on this
    channel (a latest-state peer then gets an update, not a create). The core sends items of one
    ``exists`` value per call.
    """

    subject: str
    key: str
    body: bytes
    exists: bool = False
    cid: str | None = None
    """The correlation id stored with the item (``""``: none); None when the core did not read
    it."""


@dataclass(frozen=True, slots=True)
class PeerReply:
    """What a peer answered to a successful :meth:`Connector.send`.

    ``peer_code`` is the peer's own success code as a string (``""`` when nothing was sent),
    ``message`` its message, ``result`` the items it returned, and ``resent_as_update`` is true
    when the peer already held a record and the connector had to send it again as an update.
    """

    peer_code: str
    message: str
    result: tuple[Any, ...] = ()
    resent_as_update: bool = False


@runtime_checkable
class Connector(Protocol):
    """A synchronous client for one peer, shared by the core's worker threads.

    Implementations must be safe to call from several threads at once and translate every
    transport or peer failure into :class:`gateway.errors.PeerError` subclasses (transient with
    ``ambiguous`` set when the request may have had its effect).
    """

    @property
    def system(self) -> str:
        """Short stable name of the peer (``dvcqg``), as carried by ``PeerError.system``."""
        ...

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        """The channels this peer serves."""
        ...

    @property
    def max_call_seconds(self) -> float:
        """An upper bound of one :meth:`send` or :meth:`reconcile`, retries inside it included.

        Delivery leases must outlast it (checked when the gateway starts).
        """
        ...

    def send(self, channel: ChannelSpec, partition: str, items: Sequence[Item]) -> PeerReply:
        """Deliver ``items`` (at most ``channel.max_batch``, all of one ``exists`` value) in one
        peer call, on behalf of ``partition`` (the agency, the client …).

        Raises ``TransientPeerError`` (retry later; ``ambiguous`` when it may have had its
        effect) or ``PermanentPeerError`` (dead-letter).
        """
        ...

    def reconcile(
        self,
        channel: ChannelSpec,
        partition: str,
        subject: str,
        items: Sequence[Item],
        *,
        delivered: Sequence[Item] = (),
    ) -> Sequence[int]:
        """After an ambiguous failure: which of ``items`` (one subject's, that may have reached
        the peer) does the peer lack? Returns their indexes; the core marks the others delivered.
        ``delivered`` are the subject's items known to be at the peer already, so that a peer
        that echoes what it holds can tell a new copy from an old one.

        A peer that cannot be asked returns every index when resending is harmless (an upsert,
        or an event the receiver de-duplicates by its key). Raises like :meth:`send`.
        """
        ...

    def close(self) -> None:
        """Release connections; the connector is unusable afterwards."""
        ...


class ConnectorWrapper:
    """A connector around ``inner``: the same peer, channels and bounds, and every call not
    overridden passed through. Subclasses add one concern (correlation ids, traces) to
    :meth:`send` and :meth:`reconcile`, as httpx transports wrap one another."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner

    @property
    def system(self) -> str:
        """The wrapped connector's peer name."""
        return self.inner.system

    @property
    def channels(self) -> Sequence[ChannelSpec]:
        """The wrapped connector's channels."""
        return self.inner.channels

    @property
    def max_call_seconds(self) -> float:
        """The wrapped connector's bound on one call."""
        return self.inner.max_call_seconds

    def close(self) -> None:
        """Close the wrapped connector."""
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        # Only reached for what this class lacks: the inner connector's own extras (its
        # config, a look-up helper) stay reachable through the wrapper.
        return getattr(self.inner, name)
