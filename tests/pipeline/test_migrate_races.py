"""migrate.py on realistic layout-1 data, with a killed worker's lapsed lease, written by hand
as the layout-1 scripts left it (``git show 216e630:gateway/pipeline/scripts.py``): one hash per
dossier with ``_D``/``_P`` suffixes, service letters in queues, leases and metrics. After the
migration the channel core must deliver what was waiting exactly once, in order, asking first
about what was ambiguous."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis

from gateway.connectors.dvcqg import Service, entries
from gateway.pipeline.keys import LAYOUT_VERSION
from gateway.pipeline.migrate import migrate_if_needed
from gateway.pipeline.outbox import DeliveryState
from gateway.testing.records import AGENCY
from gateway.testing.records import national_dossier as dossier
from gateway.testing.records import national_step as step
from tests.pipeline.test_races import Rig

D1, D2, D3 = (f"000.00.01.H22-250101-000{i}" for i in (1, 2, 3))
NS = "r"  # the Rig's namespace
P_OP = "CapNhatTienDoHoSoMC"


@pytest.fixture
def rig(redis_client: redis.Redis) -> Iterator[Rig]:
    r = Rig(redis_client)
    yield r
    r.connector.close()


class Layout1:
    """Writes layout-1 keys as the old scripts did."""

    def __init__(self, client: redis.Redis, now_ms: int) -> None:
        self.c = client
        self.now = now_ms
        self.seq = 0

    def rec(self, svc: str, record: Any, state: str, **extra: str | int) -> tuple[str, Any]:
        service = Service.DOSSIER if svc == "D" else Service.PROGRESS
        [e] = entries(service, [record])
        self.seq += 1
        rid = f"{self.seq:012d}"
        fields: dict[str, str | int] = {
            "svc": svc,
            "agency": AGENCY,
            "dossier": e.subject,
            "fp": e.fingerprint,
            "status": e.status or "-",
            "ts": e.order,
            "body": e.body.decode(),
            "state": state,
            "accepted_at": self.now - 60_000,
            "client": "t",
            "attempts": 0,
            **extra,
        }
        if state == "delivered":
            fields["delivered_at"] = self.now - 30_000
        self.c.hset(f"{NS}:rec:{rid}", mapping=dict(fields))  # type: ignore[arg-type]  # redis-py's Mapping is invariant in its key type
        self.c.set(f"{NS}:seq", self.seq)
        return rid, e

    def dos(self, no: str, **fields: str | int) -> None:
        self.c.hset(f"{NS}:dos:{no}", mapping=dict(fields))  # type: ignore[arg-type]  # redis-py's Mapping is invariant in its key type

    def step_waiting(self, no: str, rid: str, e: Any) -> None:
        self.c.zadd(f"{NS}:steps:{no}", {rid: e.order})
        self.c.hset(f"{NS}:stepfp:{no}", e.fingerprint, rid)

    def ready(self, svc: str, no: str) -> None:
        self.c.zadd(f"{NS}:ready:{svc}:{AGENCY}", {no: self.now})
        self.c.sadd(f"{NS}:queues", f"{svc}:{AGENCY}")


def wire(e: Any) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(e.body)
    return body


def test_layout_1_outbox_migrates_and_delivers_exactly_once(rig: Rig) -> None:
    client = rig.outbox.client
    old = Layout1(client, rig.outbox.now_ms())
    # D1: state 2 delivered, state 4 waiting; step s1 delivered, s2 and s3 waiting after an
    # ambiguous send of s2 (it reached the portal): amb_P, as layout 1 flagged the dossier.
    d1a, e_d1a = old.rec("D", dossier(D1, status="2"), "delivered")
    d1b, e_d1b = old.rec("D", dossier(D1, status="4"), "queued")
    s1, e_s1 = old.rec("P", step("20250102090000", no=D1), "delivered")
    s2, e_s2 = old.rec("P", step("20250103090000", no=D1), "retrying", attempts=1)
    s3, e_s3 = old.rec("P", step("20250104090000", no=D1), "queued")
    old.step_waiting(D1, s2, e_s2)
    old.step_waiting(D1, s3, e_s3)
    old.dos(
        D1,
        fp=e_d1b.fingerprint,
        last=d1b,
        status="4",
        pending=d1b,
        agency_D=AGENCY,
        created="1",
        step_ts=e_s3.order,
        step_status="4",
        agency_P=AGENCY,
        step_sent_ts=e_s1.order,
        amb_P="1",
    )
    old.ready("D", D1)
    old.ready("P", D1)
    # D2: its only state is dead-lettered (refused), waiting for an operator.
    d2, e_d2 = old.rec("D", dossier(D2), "dead", attempts=1, dead_at=old.now - 10_000)
    old.dos(D2, fp=e_d2.fingerprint, last=d2, status="2", pending="", agency_D=AGENCY)
    client.hset(
        f"{NS}:dl:{d2}",
        mapping={
            "id": d2,
            "svc": "D",
            "agency": AGENCY,
            "dossier": D2,
            "peer": "dvcqg",
            "reason": "invalid_data",
            "message": "refused",
            "dead_at": old.now - 10_000,
            "status": "dead",
        },
    )
    client.zadd(f"{NS}:dl:index", {d2: old.now - 10_000})
    # D3: a worker was killed while its step t1 was on the wire (t1 reached the portal); its
    # lease lapsed and no sweep ran before the upgrade.
    d3, e_d3 = old.rec("D", dossier(D3), "delivered")
    t1, e_t1 = old.rec("P", step("20250102100000", no=D3), "sending")
    old.step_waiting(D3, t1, e_t1)
    old.dos(
        D3,
        fp=e_d3.fingerprint,
        last=d3,
        status="2",
        pending="",
        agency_D=AGENCY,
        created="1",
        step_ts=e_t1.order,
        step_status="4",
        agency_P=AGENCY,
        lease_P=old.now - 1_000,
        token_P="killed-worker",
    )
    client.zadd(f"{NS}:leases", {f"P|{AGENCY}|{D3}": old.now - 1_000})
    client.hset(
        f"{NS}:metrics",
        mapping={
            "accepted|D": 4,
            "accepted|P": 4,
            "delivered|D": 2,
            "delivered|P": 1,
            "dead|D|dvcqg|invalid_data": 1,
        },
    )
    # The portal holds what layout 1 delivered, and what reached it without an answer.
    rig.portal.seed([wire(e_d1a), wire(e_d3)])
    rig.connector.push(P_OP, AGENCY, [wire(e_s1), wire(e_s2)])
    rig.connector.push(P_OP, AGENCY, [wire(e_t1)])

    assert migrate_if_needed(client, NS) == old.seq
    assert client.get(f"{NS}:layout") == LAYOUT_VERSION.encode()
    assert not client.keys(f"{NS}:dos:*")
    for rid in (d1a, d1b, s1, s2, s3, d2, d3, t1):
        rig.outbox.status(rid)  # every item is readable in layout 2

    rig.clock.advance(1)
    rig.engine.sweep()
    for _ in range(3):
        rig.engine.flush(Service.DOSSIER, AGENCY)
        rig.engine.flush(Service.PROGRESS, AGENCY)
    assert rig.portal.dossier(D1) == wire(e_d1b)
    assert rig.times(D1) == ["20250102090000", "20250103090000", "20250104090000"]
    assert rig.times(D3) == ["20250102100000"]
    for rid in (d1b, s2, s3, t1):
        assert rig.state(rid) is DeliveryState.DELIVERED
    metrics = rig.outbox.metrics()
    assert metrics["accepted|dvcqg.DongBoHoSoMC"] == 4
    assert metrics["dead|dvcqg.DongBoHoSoMC|invalid_data"] == 1
    assert not any(k.split("|")[1] in ("D", "P") for k in metrics if "|" in k)

    assert rig.deadletters.replay(d2, actor="op").outcome == "queued"
    rig.engine.flush(Service.DOSSIER, AGENCY)
    assert rig.portal.dossier(D2) == wire(e_d2)
    assert rig.state(d2) is DeliveryState.DELIVERED
