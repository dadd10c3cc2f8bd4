"""The running gateway's channels: each connector's declared channels, with what the core adds.

The core knows a channel by id only. It adds, per channel, the life-cycle string that guarded
channels check at intake, and the channels that wait for it (whose work is woken when one of its
subjects is settled).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from gateway.connectors.base import ChannelSpec, Mode
from gateway.errors import ConfigurationError

__all__ = ["Channel", "Channels"]

_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, slots=True)
class Channel:
    """A declared channel plus the core's additions."""

    spec: ChannelSpec
    allowed: str = "*"
    """Legal status changes as ``",old>new,…,"`` (``"*"``: no life cycle)."""
    dependents: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The channel id."""
        return self.spec.id

    @property
    def peer(self) -> str:
        """The peer's name."""
        return self.spec.peer

    @property
    def mode(self) -> Mode:
        """The channel's mode."""
        return self.spec.mode

    @property
    def operation(self) -> str:
        """The peer's name for the operation."""
        return self.spec.operation

    def script_args(self) -> list[str]:
        """ARGV 3–6 of every script run for this channel."""
        return [self.id, self.mode.value, self.spec.after or "", ",".join(self.dependents)]


class Channels:
    """Every channel of the running gateway, by id. Refuses bad declarations at start-up."""

    def __init__(
        self, specs: Iterable[ChannelSpec], *, allowed: Mapping[str, str] | None = None
    ) -> None:
        specs = list(specs)
        ids = [s.id for s in specs]
        for s in specs:
            if not _ID.match(s.id):
                raise ConfigurationError(f"channel id {s.id!r} may use only A-Z a-z 0-9 _ . -")
            if ids.count(s.id) > 1:
                raise ConfigurationError(f"channel {s.id} is declared twice")
            if s.after is not None and s.after not in ids:
                raise ConfigurationError(f"channel {s.id} waits for unknown channel {s.after}")
            if s.max_batch < 1:
                raise ConfigurationError(f"channel {s.id}: max_batch must be at least 1")
        given = allowed or {}
        self._by_id = {
            s.id: Channel(
                s,
                allowed=given.get(s.id, "*") if s.guarded else "*",
                dependents=tuple(o.id for o in specs if o.after == s.id),
            )
            for s in specs
        }

    def __getitem__(self, channel_id: str) -> Channel:
        try:
            return self._by_id[channel_id]
        except KeyError:
            raise KeyError(f"no channel {channel_id!r}") from None

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._by_id

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def of_peer(self, peer: str) -> list[Channel]:
        """The channels of one peer."""
        return [c for c in self if c.peer == peer]

    @property
    def peers(self) -> list[str]:
        """Every peer's name, in declaration order."""
        return list(dict.fromkeys(c.peer for c in self))
