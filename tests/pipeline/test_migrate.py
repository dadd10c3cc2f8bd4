"""Layout 1 (DVCQG services D/P) → layout 2 (channels): stored data stays deliverable."""

from __future__ import annotations

import orjson
import redis
from pydantic import BaseModel

from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.pipeline.deadletters import DeadLetterFilter
from gateway.pipeline.migrate import migrate_if_needed
from gateway.pipeline.outbox import DeliveryState
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import AGENCY, Clock, national_dossier, national_step

NS = "old"
D1, D2 = f"{AGENCY}-250101-0001", f"{AGENCY}-250101-0002"


def _body(model: BaseModel) -> bytes:
    return model.__pydantic_serializer__.to_json(model, by_alias=True, exclude_none=True)


def _rec(
    r: redis.Redis, rid: str, svc: str, dossier: str, state: str, body: bytes, ts: str
) -> None:
    r.hset(
        f"{NS}:rec:{rid}",
        mapping={
            "svc": svc,
            "agency": AGENCY,
            "dossier": dossier,
            "fp": f"fp{rid}",
            "status": "2",
            "ts": ts,
            "body": body,
            "state": state,
            "accepted_at": "1735689600000",
            "client": "prov",
            "attempts": "0",
        },
    )


def write_layout_1(r: redis.Redis) -> None:
    """What the first layout's scripts left: D1 created with a newer state waiting, one step
    delivered and one waiting (ambiguous), D2's state dead-lettered, counters by service."""
    state_2 = national_dossier(D1, status="2")
    state_4 = national_dossier(D1, status="4")
    step_a = national_step("20250102090000", no=D1)
    step_b = national_step("20250103090000", no=D1, content="Bước hai")
    r.set(f"{NS}:seq", 5)
    _rec(r, "000000000001", "D", D1, "delivered", _body(state_2), "20250101080000")
    _rec(r, "000000000002", "D", D1, "queued", _body(state_4), "20250101080000")
    _rec(r, "000000000003", "P", D1, "delivered", _body(step_a), "20250102090000")
    _rec(r, "000000000004", "P", D1, "retrying", _body(step_b), "20250103090000")
    _rec(r, "000000000005", "D", D2, "dead", _body(national_dossier(D2)), "20250101080000")
    r.hset(
        f"{NS}:dos:{D1}",
        mapping={
            "fp": "fp000000000002",
            "last": "000000000002",
            "status": "4",
            "pending": "000000000002",
            "created": "1",
            "agency_D": AGENCY,
            "step_ts": "20250103090000",
            "step_status": "2",
            "step_sent_ts": "20250102090000",
            "agency_P": AGENCY,
            "amb_P": "1",
        },
    )
    r.hset(f"{NS}:dos:{D2}", mapping={"fp": "fp5", "last": "000000000005", "pending": ""})
    r.zadd(f"{NS}:steps:{D1}", {"000000000004": 20250103090000})
    r.hset(f"{NS}:stepfp:{D1}", mapping={"fp000000000003": "000000000003", "fp4": "000000000004"})
    r.zadd(f"{NS}:ready:D:{AGENCY}", {D1: 0})
    r.zadd(f"{NS}:ready:P:{AGENCY}", {D1: 0})
    r.sadd(f"{NS}:queues", f"D:{AGENCY}", f"P:{AGENCY}")
    r.hset(
        f"{NS}:dl:000000000005",
        mapping={
            "id": "000000000005",
            "svc": "D",
            "agency": AGENCY,
            "dossier": D2,
            "peer": "dvcqg",
            "reason": "peer_code:2",
            "message": "refused",
            "dead_at": "1735689600000",
            "status": "dead",
        },
    )
    r.zadd(f"{NS}:dl:index", {"000000000005": 1735689600000})
    r.hset(
        f"{NS}:metrics",
        mapping={"accepted|D": 3, "delivered|P": 1, "dead|D|dvcqg|peer_code:2": 1},
    )


def test_layout_1_data_is_migrated_and_delivered(redis_client: redis.Redis) -> None:
    """After migration the waiting state and step go out (the step after a look-up, since it was
    ambiguous), the dead letter is listed and replayable, and counters keep their values."""
    write_layout_1(redis_client)
    assert migrate_if_needed(redis_client, NS) == 5
    assert migrate_if_needed(redis_client, NS) == 0  # idempotent: the layout key says 2
    portal = FakePortal()
    portal.seed([national_dossier(D1, status="2").model_dump(by_alias=True, exclude_none=True)])
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    service = GatewayService(Settings(namespace=NS), redis_client, connector, clock=Clock())
    try:
        status = service.outbox.status("000000000004")
        assert (status.channel, status.subject, status.ambiguous) == (Service.PROGRESS, D1, True)
        assert service.flush(Service.DOSSIER, AGENCY) == 1
        assert (portal.dossier(D1) or {}).get("TrangThaiHoSo") == "4"
        assert [c.is_updating for c in portal.calls if c.service == "DongBoHoSoMC"] == ["True"]
        assert service.flush(Service.PROGRESS, AGENCY) == 1
        assert [s["ThoiDiemXuLy"] for s in portal.steps(D1)] == ["20250103090000"]
        assert any(c.service == "TraCuuHoSo" for c in portal.calls)
        assert service.outbox.status("000000000004").state is DeliveryState.DELIVERED
        [letter] = service.deadletters.find(DeadLetterFilter(channel=Service.DOSSIER)).items
        assert (letter.id, letter.subject, letter.partition) == ("000000000005", D2, AGENCY)
        assert service.deadletters.replay(letter.id, actor="ops").outcome == "queued"
        assert service.flush(Service.DOSSIER, AGENCY) == 1
        metrics = service.outbox.metrics()
        assert metrics["accepted|dvcqg.DongBoHoSoMC"] == 3
        assert metrics["dead|dvcqg.DongBoHoSoMC|peer_code:2"] == 1
        assert not any(k.endswith("|D") or "|D|" in k for k in metrics)
        assert orjson.loads(redis_client.hget(f"{NS}:rec:000000000004", "body") or b"{}")
    finally:
        service.close()


def test_fresh_namespace_is_marked_without_migrating(redis_client: redis.Redis) -> None:
    """An empty namespace is simply marked with the current layout."""
    assert migrate_if_needed(redis_client, "new") == 0
    assert redis_client.get("new:layout") == b"2"


def test_migrate_command_migrates_then_reports_nothing_to_do(
    redis_client: redis.Redis, redis_url: str
) -> None:
    """``gateway migrate`` against a shared Redis: migrates once, then says it is current."""
    from click.testing import CliRunner

    from gateway.cli import main

    write_layout_1(redis_client)
    env = {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_NAMESPACE": NS}
    first = CliRunner().invoke(main, ["migrate"], env=env)
    assert first.exit_code == 0, first.output
    assert "migrated 5 item(s)" in first.output
    assert redis_client.hget(f"{NS}:rec:000000000004", "ch") == b"dvcqg.CapNhatTienDoHoSoMC"
    second = CliRunner().invoke(main, ["migrate"], env=env)
    assert "already in the current layout" in second.output
