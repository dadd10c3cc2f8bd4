"""The outbox's Redis key layout, in one place (the Lua scripts build the same names).

``ns`` is the configured namespace, ``C`` a channel id (``<peer>.<operation>``, e.g.
``dvcqg.DongBoHoSoMC``), ``P`` a partition (the agency, the client …) and ``S`` a subject (the
dossier number, an event id …)::

    ns:layout                 "2": the layout version (absent before channels: see migrate.py)
    ns:seq                    counter for item ids (zero-padded, so lexical = numeric order)
    ns:rec:<id>               hash: one accepted item (its delivery): ch, part, subj, fp, status,
                              ord, body, state, attempts, amb (on the wire, outcome unknown),
                              cid (the intake request's correlation id; an event: its delivery's) …
    ns:rec:<id>:log           list: "<ms> <error>" per failed attempt
    ns:sub:C:S                hash: per channel and subject: lease, token, pending/last/sending
                              (latest-state channels), ord, status, exists, sent_ord, amb …
    ns:items:C:S              zset: undelivered items of an append or event channel, score = ord
    ns:done:C:S               zset: delivered items of an append channel (for look-ups)
    ns:fps:C:S                hash: fingerprint (or idempotency key) -> item id, accepted once
                              (a notification event's sub, fps and done keys are deleted when
                              it is delivered: its subject is its own, minted by the gateway)
    ns:ready:C:P              zset: subjects with work, score = not-before time (ms)
    ns:queues                 set: "C|P" of every ready zset ever used
    ns:leases                 zset: "C|P|S" -> lease expiry (ms)
    ns:trig:C:P               string: a flush message is on its way (expires)
    ns:dl:<id> / ns:dl:index  dead letters: hash, and zset by time dead
    ns:pins:C                 hash: subject -> a value later states must carry (_guard_pins.lua)
    ns:audit                  stream: operator actions
    ns:metrics                hash: cluster-wide counters, "<kind>|C[|reason]"
    ns:latency                hash: the delivery latency histogram
    ns:trace:<cid>            string: the traceparent of the intake request that bound the
                              correlation id (only while [traces] is on; expires)

Lua scripts build key names from ARGV, which works on one Redis, not on Redis Cluster (see
stack-notes); sharding would need the keys declared with one hash tag per channel.
"""

from __future__ import annotations

__all__ = ["LAYOUT_VERSION", "Keys"]

LAYOUT_VERSION = "2"


class Keys:
    """Key names under one namespace."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace
        self.layout = f"{namespace}:layout"
        self.seq = f"{namespace}:seq"
        self.queues = f"{namespace}:queues"
        self.leases = f"{namespace}:leases"
        self.dl_index = f"{namespace}:dl:index"
        self.audit = f"{namespace}:audit"
        self.metrics = f"{namespace}:metrics"
        self.latency = f"{namespace}:latency"

    def rec(self, item_id: str) -> str:
        """One item's hash."""
        return f"{self.ns}:rec:{item_id}"

    def log(self, item_id: str) -> str:
        """One item's failed attempts."""
        return f"{self.ns}:rec:{item_id}:log"

    def sub(self, channel: str, subject: str) -> str:
        """Per channel and subject state."""
        return f"{self.ns}:sub:{channel}:{subject}"

    def items(self, channel: str, subject: str) -> str:
        """Undelivered items of a subject (append and event channels)."""
        return f"{self.ns}:items:{channel}:{subject}"

    def done(self, channel: str, subject: str) -> str:
        """Delivered items of a subject (append channels)."""
        return f"{self.ns}:done:{channel}:{subject}"

    def fps(self, channel: str, subject: str) -> str:
        """Fingerprints (or idempotency keys) of a subject's accepted items."""
        return f"{self.ns}:fps:{channel}:{subject}"

    def ready(self, channel: str, partition: str) -> str:
        """Subjects with work on one channel and partition."""
        return f"{self.ns}:ready:{channel}:{partition}"

    def trigger(self, channel: str, partition: str) -> str:
        """The "a flush is on its way" mark of one queue."""
        return f"{self.ns}:trig:{channel}:{partition}"

    def pins(self, channel: str) -> str:
        """The pinned values of a channel's subjects (``Outbox.accept(pins=…)``)."""
        return f"{self.ns}:pins:{channel}"

    def dead_letter(self, item_id: str) -> str:
        """One dead letter's hash."""
        return f"{self.ns}:dl:{item_id}"

    def trace(self, cid: str) -> str:
        """The intake request's traceparent, by its correlation id (traces on)."""
        return f"{self.ns}:trace:{cid}"

    def workers(self, worker_id: str = "*") -> str:
        """A worker pool's heartbeat (``*``: the pattern for all)."""
        return f"{self.ns}:workers:{worker_id}"

    @staticmethod
    def queue(channel: str, partition: str) -> str:
        """A member of ``ns:queues``."""
        return f"{channel}|{partition}"

    @staticmethod
    def split_queue(member: str) -> tuple[str, str]:
        """``(channel, partition)`` of a ``ns:queues`` member or a script's "woke" entry."""
        channel, _, partition = member.partition("|")
        return channel, partition
