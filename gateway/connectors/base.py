"""The one interface the delivery pipeline uses to reach any national peer.

A new peer is a new class that satisfies :class:`DeliveryConnector`; the pipeline does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson

__all__ = ["DeliveryConnector", "PeerReply", "WireRecord"]

WireRecord = Mapping[str, Any] | orjson.Fragment
"""A national record: a mapping, or its JSON already encoded (``orjson.Fragment``), which the
pipeline passes straight from the outbox so a record is never decoded just to be encoded again."""


@dataclass(frozen=True, slots=True)
class PeerReply:
    """What a peer answered to a successful :meth:`DeliveryConnector.send`.

    ``peer_code`` is the peer's own success code as a string (``""`` when nothing was sent),
    ``message`` its message, ``result`` the items it returned (every batch's, in order), and
    ``resent_as_update`` is true when the peer already held a record and the connector had to send
    the batch again as an update.
    """

    peer_code: str
    message: str
    result: tuple[Any, ...] = ()
    resent_as_update: bool = False


@runtime_checkable
class DeliveryConnector(Protocol):
    """A synchronous client for one peer, shared by the pipeline's worker threads.

    Implementations must be safe to call from several threads at once and translate every
    transport or peer failure into :class:`gateway.errors.PeerError` subclasses.
    """

    @property
    def system(self) -> str:
        """Short stable name of the peer (``dvcqg``), as carried by ``PeerError.system``."""
        ...

    @property
    def max_batch(self) -> int:
        """The most records :meth:`send` delivers in one call to the peer.

        The pipeline never passes more, so a failed send is never a partial success.
        """
        ...

    @property
    def max_call_seconds(self) -> float:
        """An upper bound of one :meth:`send` or :meth:`lookup`, retries inside it included.

        Delivery leases must outlast it (checked when the gateway starts).
        """
        ...

    def send(
        self,
        service: str,
        agency: str,
        records: Sequence[WireRecord],
        *,
        updating: bool = False,
    ) -> PeerReply:
        """Deliver ``records`` to ``service`` on behalf of ``agency`` and return the peer's answer.

        Raises ``TransientPeerError`` (retry later; when ``ambiguous`` is set, call
        :meth:`lookup` first) or ``PermanentPeerError`` (dead-letter). A connector may split the
        records into several calls; if a later call fails, the earlier ones have been delivered.
        """
        ...

    def lookup(self, agency: str, dossier_no: str) -> Mapping[str, Any] | None:
        """Return what the peer holds for ``dossier_no``, or ``None`` when it holds nothing.

        Used after an ambiguous failure to learn whether the request reached the peer.
        Raises the same errors as :meth:`send`.
        """
        ...

    def close(self) -> None:
        """Release connections; the connector is unusable afterwards."""
        ...
