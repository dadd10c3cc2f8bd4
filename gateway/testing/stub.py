"""A stub peer for the delivery core's own tests, as dramatiq's tests run against ``StubBroker``.

:class:`StubPeer` is a :class:`~gateway.connectors.base.Connector` that keeps what it is sent in
memory, with no HTTP, no envelope, no login: only the channel semantics. It serves whatever
channel specs it is given (the pipeline tests give it DVCQG's, so the same tests run against the
real DVCQG connector and this stub). It mirrors the inspection and fault API of the fake portal
(:class:`~gateway.testing.fake_portal.FakePortal`) that those tests use: ``dossier``, ``steps``,
``calls``, ``fail_next``, ``throttle_next``, ``drop_next``, ``reject``, ``clear_faults``.

Semantics: a latest-state channel keeps the last body per subject; an append channel keeps
every body per subject (copies visible) and refuses items whose ``after`` subject it lacks; an
event channel keeps every body. Reconciling an append channel compares whole bodies, counting
copies, after the ``delivered`` items take their matches.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.connectors.base import ChannelSpec, Item, Mode, PeerReply
from gateway.errors import PermanentPeerError, TransientPeerError

__all__ = ["StubCall", "StubPeer"]


@dataclass(frozen=True, slots=True)
class StubCall:
    """One call as the stub saw it, shaped like the fake portal's ``PortalCall``."""

    service: str
    agency: str
    dossiers: tuple[str, ...]
    is_updating: str | None
    error_code: str | None


@dataclass(frozen=True, slots=True)
class _Fault:
    kind: str  # "fail", "throttle", "drop"
    status: int = 503
    retry_after: float | None = None


def _canon(body: bytes) -> bytes:
    # The same record, however it was encoded.
    return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)


class StubPeer:
    """An in-memory peer serving ``channels``; thread-safe."""

    def __init__(self, channels: Sequence[ChannelSpec], *, max_call_seconds: float = 1.0) -> None:
        if not channels:
            raise ValueError("a stub peer needs at least one channel")
        self.channels: tuple[ChannelSpec, ...] = tuple(channels)
        self.system = self.channels[0].peer
        self.max_call_seconds = max_call_seconds
        self._lock = threading.Lock()
        self._latest: dict[str, dict[str, bytes]] = {c.id: {} for c in self.channels}
        self._appended: dict[str, dict[str, list[bytes]]] = {c.id: {} for c in self.channels}
        self._calls: list[StubCall] = []
        self._faults: deque[_Fault] = deque()
        self._rejected: set[str] = set()

    # -- inspection (the fake portal's names) ---------------------------------------------------

    def _by_mode(self, mode: Mode) -> ChannelSpec:
        return next(c for c in self.channels if c.mode is mode)

    def dossier(self, subject: str) -> dict[str, Any] | None:
        """The latest state held for ``subject`` on the latest-state channel, decoded."""
        body = self._latest[self._by_mode(Mode.LATEST).id].get(subject)
        return None if body is None else dict(orjson.loads(body))

    @property
    def dossiers(self) -> dict[str, dict[str, Any]]:
        """Every latest state held, decoded, by subject."""
        held = self._latest[self._by_mode(Mode.LATEST).id]
        return {s: dict(orjson.loads(b)) for s, b in held.items()}

    def steps(self, subject: str) -> list[dict[str, Any]]:
        """Every item appended for ``subject`` on the append channel, copies included."""
        got = self._appended[self._by_mode(Mode.APPEND).id].get(subject, [])
        return [dict(orjson.loads(b)) for b in got]

    @property
    def calls(self) -> tuple[StubCall, ...]:
        """Every call, look-ups (``TraCuuHoSo``) included."""
        with self._lock:
            return tuple(self._calls)

    # -- faults ---------------------------------------------------------------------------------

    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        """The next ``count`` calls fail transiently, applying nothing."""
        with self._lock:
            self._faults.extend(_Fault("fail", status) for _ in range(count))

    def throttle_next(self, count: int = 1, *, retry_after: str = "1") -> None:
        """The next ``count`` calls are throttled with ``Retry-After``."""
        with self._lock:
            self._faults.extend(_Fault("throttle", 429, float(retry_after)) for _ in range(count))

    def drop_next(self, count: int = 1) -> None:
        """The next ``count`` calls are applied, then their outcome is lost (ambiguous)."""
        with self._lock:
            self._faults.extend(_Fault("drop") for _ in range(count))

    def reject(self, subject: str, **_: Any) -> None:
        """Refuse every write naming ``subject`` until :meth:`clear_faults`."""
        with self._lock:
            self._rejected.add(subject)

    def clear_faults(self) -> None:
        """Forget pending faults and rejections."""
        with self._lock:
            self._faults.clear()
            self._rejected.clear()

    # -- the connector --------------------------------------------------------------------------

    def _fault(self, operation: str) -> _Fault | None:
        fault = self._faults.popleft() if self._faults else None
        if fault is None or fault.kind == "drop":
            return fault
        raise TransientPeerError(
            f"stub {fault.kind}",
            system=self.system,
            operation=operation,
            status=fault.status,
            retry_after=fault.retry_after,
        )

    def send(self, channel: ChannelSpec, partition: str, items: Sequence[Item]) -> PeerReply:
        """Apply ``items`` in one call (or raise what a fault says)."""
        with self._lock:
            subjects = tuple(i.subject for i in items)
            updating = None
            if channel.mode is Mode.LATEST:
                updating = "True" if items and items[0].exists else "False"
            code: str | None = None
            try:
                fault = self._fault(channel.operation)
                if any(s in self._rejected for s in subjects):
                    code = "2"
                    raise PermanentPeerError(
                        "stub refused",
                        system=self.system,
                        operation=channel.operation,
                        peer_code="2",
                    )
                self._apply(channel, items)
                code = "0"
            finally:
                self._calls.append(StubCall(channel.operation, partition, subjects, updating, code))
            if fault is not None:
                raise TransientPeerError(
                    "stub dropped the reply",
                    system=self.system,
                    operation=channel.operation,
                    ambiguous=True,
                )
            return PeerReply("0", "")

    def _apply(self, channel: ChannelSpec, items: Sequence[Item]) -> None:
        if channel.mode is Mode.LATEST:
            for item in items:
                self._latest[channel.id][item.subject] = item.body
            return
        if channel.after is not None:
            missing = [i.subject for i in items if i.subject not in self._latest[channel.after]]
            if missing:
                raise PermanentPeerError(
                    f"stub holds no {missing[0]} on {channel.after}",
                    system=self.system,
                    operation=channel.operation,
                    peer_code="3",
                )
        for item in items:
            self._appended[channel.id].setdefault(item.subject, []).append(item.body)

    def push(
        self,
        service: str,
        agency: str,
        records: Sequence[Mapping[str, Any]],
        *,
        updating: bool = False,
    ) -> PeerReply:
        """Apply decoded records on the channel whose operation is ``service`` (tests use it to
        play a worker that sent and then died)."""
        channel = next(c for c in self.channels if c.operation == service)
        items = [
            Item(str(r.get("MaHoSo", "")), "", orjson.dumps(dict(r)), updating) for r in records
        ]
        with self._lock:
            self._apply(channel, items)
        return PeerReply("0", "")

    def reconcile(
        self,
        channel: ChannelSpec,
        partition: str,
        subject: str,
        items: Sequence[Item],
        *,
        delivered: Sequence[Item] = (),
    ) -> list[int]:
        """Which of ``items`` the stub lacks (whole-body comparison, copies counted)."""
        with self._lock:
            self._fault("TraCuuHoSo")
            self._calls.append(StubCall("TraCuuHoSo", partition, (subject,), None, "0"))
            if channel.mode is not Mode.APPEND:
                return list(range(len(items)))
            pool = Counter(_canon(b) for b in self._appended[channel.id].get(subject, []))
            for old in delivered:
                if pool[_canon(old.body)] > 0:
                    pool[_canon(old.body)] -= 1
            lacking: list[int] = []
            for n, item in enumerate(items):
                if pool[_canon(item.body)] > 0:
                    pool[_canon(item.body)] -= 1
                else:
                    lacking.append(n)
            return lacking

    def close(self) -> None:
        """Nothing to release."""
