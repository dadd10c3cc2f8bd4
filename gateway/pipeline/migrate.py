"""Migrate an outbox from the first layout (DVCQG services ``D``/``P``) to channels (layout 2).

Layout 1 kept one hash per dossier (``ns:dos:<MaHoSo>``) with ``_D``/``_P`` field suffixes and
keyed queues, leases and metrics by the service letter. Layout 2 (:mod:`.keys`) keys everything by
channel id. :func:`migrate_if_needed` runs when the gateway opens its Redis, before any worker
starts; ``gateway migrate`` runs it by hand. It is idempotent: it stops at once when the layout
key says 2, and each step overwrites what a broken earlier run left. Run it with every gateway
process of the namespace stopped.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from gateway.pipeline.keys import LAYOUT_VERSION, Keys

__all__ = ["migrate", "migrate_if_needed"]

log = logging.getLogger("gateway.pipeline")

_CHANNEL = {"D": "dvcqg.DongBoHoSoMC", "P": "dvcqg.CapNhatTienDoHoSoMC"}


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def migrate_if_needed(client: redis.Redis, namespace: str) -> int:
    """Migrate when the data is in layout 1; returns how many items were migrated."""
    keys = Keys(namespace)
    if client.get(keys.layout) is not None:
        return 0
    if not client.exists(keys.seq):
        client.set(keys.layout, LAYOUT_VERSION)
        return 0
    return migrate(client, namespace)


def migrate(client: redis.Redis, namespace: str) -> int:
    """Rewrite layout-1 keys of ``namespace`` into layout 2; returns the items migrated."""
    keys = Keys(namespace)
    ns = namespace
    count = 0
    for raw in client.scan_iter(f"{ns}:rec:*", count=1000):
        key = _s(raw)
        if key.endswith(":log"):
            continue
        f = {_s(k): _s(v) for k, v in client.hgetall(key).items()}
        svc = f.get("svc")
        if svc not in _CHANNEL or "ch" in f:
            continue
        ch = _CHANNEL[svc]
        item_id = key.rsplit(":", 1)[1]
        client.hset(
            key,
            mapping={"ch": ch, "part": f["agency"], "subj": f["dossier"], "ord": f.get("ts", "0")},
        )
        if svc == "P" and f.get("state") == "delivered":
            client.zadd(keys.done(ch, f["dossier"]), {item_id: int(f.get("ts", "0") or 0)})
        count += 1
    for raw in client.scan_iter(f"{ns}:dos:*", count=1000):
        _dossier(client, keys, _s(raw).split(":", 2)[2])
    for svc, ch in _CHANNEL.items():
        for raw in client.scan_iter(f"{ns}:ready:{svc}:*", count=1000):
            old = _s(raw)
            client.rename(old, keys.ready(ch, old.split(":", 3)[3]))
    members = [_s(m) for m in client.smembers(keys.queues)]
    for m in members:
        svc, _, agency = m.partition(":")
        if svc in _CHANNEL:
            client.srem(keys.queues, m)
            client.sadd(keys.queues, Keys.queue(_CHANNEL[svc], agency))
    leases: list[tuple[bytes, float]] = client.zrange(keys.leases, 0, -1, withscores=True)  # type: ignore[assignment]  # redis-py types zrange loosely
    for member, score in leases:
        svc, _, rest = _s(member).partition("|")
        if svc in _CHANNEL:
            client.zrem(keys.leases, member)
            client.zadd(keys.leases, {f"{_CHANNEL[svc]}|{rest}": score})
    for raw in client.scan_iter(f"{ns}:dl:*", count=1000):
        key = _s(raw)
        if key == keys.dl_index:
            continue
        f = {_s(k): _s(v) for k, v in client.hgetall(key).items()}
        if f.get("svc") in _CHANNEL and "ch" not in f:
            client.hset(
                key,
                mapping={"ch": _CHANNEL[f["svc"]], "part": f["agency"], "subj": f["dossier"]},
            )
    for name, value in list(client.hgetall(keys.metrics).items()):
        kind, _, rest = _s(name).partition("|")
        parts = rest.split("|")
        if parts[0] not in _CHANNEL:
            continue
        ch = _CHANNEL[parts[0]]
        # v1 dead counters were "dead|S|peer|reason"; v2 has "dead|channel|reason".
        new = f"{kind}|{ch}" + (f"|{'|'.join(parts[2:])}" if kind == "dead" else "")
        client.hdel(keys.metrics, name)
        client.hincrby(keys.metrics, new, int(value))
    for raw in client.scan_iter(f"{ns}:trig:*", count=1000):
        client.delete(raw)
    client.set(keys.layout, LAYOUT_VERSION)
    log.warning("migrated %d outbox items of namespace %s to layout %s", count, ns, LAYOUT_VERSION)
    return count


def _dossier(client: redis.Redis, keys: Keys, dossier: str) -> None:
    old = f"{keys.ns}:dos:{dossier}"
    f = {_s(k): _s(v) for k, v in client.hgetall(old).items()}
    d, p = _CHANNEL["D"], _CHANNEL["P"]
    latest: dict[str, str] = {}
    for name in ("fp", "last", "status", "pending"):
        if name in f:
            latest[name] = f[name]
    renames = {
        "sending_D": "sending",
        "lease_D": "lease",
        "token_D": "token",
        "solo_D": "solo",
        "agency_D": "part",
    }
    latest.update({new: f[o] for o, new in renames.items() if o in f})
    if f.get("created") == "1":
        latest["exists"] = "1"
    if "last" in f:
        latest["ord"] = _s(client.hget(keys.rec(f["last"]), "ts") or b"0")
    if latest:
        client.hset(keys.sub(d, dossier), mapping=dict(latest))  # type: ignore[arg-type]  # redis-py's Mapping is invariant in its key type
    append: dict[str, str] = {}
    renames = {
        "step_ts": "ord",
        "step_status": "status",
        "step_sent_ts": "sent_ord",
        "lease_P": "lease",
        "token_P": "token",
        "solo_P": "solo",
        "agency_P": "part",
    }
    append.update({new: f[o] for o, new in renames.items() if o in f})
    steps = f"{keys.ns}:steps:{dossier}"
    if client.exists(steps):
        client.rename(steps, keys.items(p, dossier))
    fps = f"{keys.ns}:stepfp:{dossier}"
    if client.exists(fps):
        client.rename(fps, keys.fps(p, dossier))
    if f.get("amb_P") == "1":
        # Layout 1 knew ambiguity per dossier only: every waiting step is asked about.
        waiting = [_s(i) for i in client.zrange(keys.items(p, dossier), 0, -1)]
        for item_id in waiting:
            client.hset(keys.rec(item_id), "amb", "1")
        append["amb"] = str(len(waiting))
    if append:
        client.hset(keys.sub(p, dossier), mapping=dict(append))  # type: ignore[arg-type]  # redis-py's Mapping is invariant in its key type
    client.delete(old)
