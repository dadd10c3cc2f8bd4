"""The intake hook: what GatewayService.accept hands to the evaluations."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import redis

from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.evaluations import Item
from gateway.schemas.codes import DossierStatus as S
from gateway.schemas.lifecycle import Lifecycle
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import national_dossier, national_step

AGENCY = "000.00.01.H22"
NO = f"{AGENCY}-261005-0001"


@pytest.fixture
def gateway(redis_client: redis.Redis) -> Iterator[GatewayService]:
    """A gateway whose life cycle lets a finished dossier be re-opened (9 → 4 → 10), as real
    senders re-sync."""
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    base = Lifecycle().transitions
    lifecycle = Lifecycle(
        transitions={
            **base,
            S.FINISHED: base[S.FINISHED] | {S.PROCESSING},
            S.PROCESSING: base[S.PROCESSING] | {S.RETURNED},
        }
    )
    g = GatewayService(Settings(), redis_client, connector, lifecycle=lifecycle)
    yield g
    g.close()


def test_accepted_dossier_and_steps_fold_in(gateway: GatewayService) -> None:
    """A dossier and its steps (supplement requested, then resumed) build the record."""
    gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
    steps = [national_step("20250105090000", "4", NO), national_step("20250103090000", "5", NO)]
    gateway.accept(Service.PROGRESS, AGENCY, steps, client="prov")
    gateway.evaluations.drain()
    rec = gateway.evaluations.store.get(NO)
    assert rec is not None
    assert rec.has_dossier
    assert (rec.channel, rec.status) == ("2", "4")
    assert rec.supplement_count == 1
    assert rec.step_supplements[0][1] is not None  # closed by the later step, sorted by time


def test_duplicates_and_refusals_change_nothing(gateway: GatewayService) -> None:
    """A duplicate record takes no new feed position; a refused one is not folded in."""
    finished = national_dossier(NO, "10", NgayKetThucXuLy="20250120090000")
    gateway.accept(Service.DOSSIER, AGENCY, [finished], client="prov")
    gateway.evaluations.drain()
    before = gateway.evaluations.store.high_water()
    gateway.accept(Service.DOSSIER, AGENCY, [finished], client="prov")
    # An older state (by the record's own times) after a newer one is refused.
    [refused] = gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "4")], client="prov")
    assert refused.refused_rule == "state_out_of_order"
    assert gateway.evaluations.store.backlog() == 0
    gateway.evaluations.drain()
    assert gateway.evaluations.store.high_water() == before
    gateway.evaluations.drain()
    rec = gateway.evaluations.store.get(NO)
    assert rec is not None
    assert rec.status == "10"


def test_resync_9_4_10_is_flagged_and_keeps_the_first_finish(gateway: GatewayService) -> None:
    """Through the intake: 9 then 4 then 10 flags "reopened"; the finish stays at the first 9."""
    first = national_dossier(NO, "9", NgayKetThucXuLy="20250105090000")
    gateway.accept(Service.DOSSIER, AGENCY, [first], client="prov")
    # The re-sync's 4 carries a newer event (a supplement), so it is a reopening, not stale.
    supplement = {
        "HoSoBoSungId": "BS-1",
        "NoiDungBoSung": "Bổ sung",
        "NgayBoSung": "20250110090000",
    }
    gateway.accept(
        Service.DOSSIER,
        AGENCY,
        [national_dossier(NO, "4", DanhSachHoSoBoSung=[supplement])],
        client="prov",
    )
    gateway.evaluations.drain()
    last = national_dossier(
        NO, "10", NgayKetThucXuLy="20250120090000", DanhSachHoSoBoSung=[supplement]
    )
    gateway.accept(Service.DOSSIER, AGENCY, [last], client="prov")
    gateway.evaluations.drain()
    rec = gateway.evaluations.store.get(NO)
    assert rec is not None
    assert rec.flags == ["reopened"]  # the table here allows 9 → 4: no intake flag
    assert (rec.finished_status, rec.status) == ("9", "10")


def test_intake_flags_and_identity_lookups_are_read(
    gateway: GatewayService, redis_client: redis.Redis
) -> None:
    """The intake's flags (stored on the record) and the dossier's look-ups are folded in."""
    redis_client.rpush(
        f"gw:idchecks:{NO}",
        orjson.dumps({"at": 1, "outcome": "match", "profile": "p", "client": "c"}),
        b"not json",
    )
    records = [national_dossier(NO, "2")]
    flags = [["owner_id_mismatch", "late_sync"]]
    gateway.accept(Service.DOSSIER, AGENCY, records, client="prov", flags=flags)
    gateway.evaluations.drain()
    rec = gateway.evaluations.store.get(NO)
    assert rec is not None
    assert rec.flags == ["owner_id_mismatch", "late_sync"]
    assert rec.idchecks == {"match": 1}
    redis_client.rpush(f"gw:idchecks:{NO}", orjson.dumps({"at": 2, "outcome": "mismatch"}))
    assert gateway.evaluations.refresh_idchecks(NO) is not None
    again = gateway.evaluations.store.get(NO)
    assert again is not None
    assert again.idchecks == {"match": 1, "mismatch": 1}


def test_the_intake_writes_nothing_until_a_drain(gateway: GatewayService) -> None:
    """Accepting leaves the evaluations alone; the drain then finds the item by its id."""
    gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
    assert gateway.evaluations.store.backlog() == 1
    assert gateway.evaluations.store.get(NO) is None
    assert gateway.evaluations.drain() == 1
    assert gateway.evaluations.store.backlog() == 0
    assert gateway.evaluations.store.get(NO) is not None
    assert gateway.evaluations.drain() == 0


def test_a_repeated_drain_folds_nothing_twice(gateway: GatewayService) -> None:
    """Items folded by a drain that died before moving its cursor are skipped next time."""
    steps = [national_step("20250103090000", "5", NO), national_step("20250105090000", "4", NO)]
    outcomes = gateway.accept(Service.PROGRESS, AGENCY, steps, client="prov")
    ids = sorted(o.delivery_id or "" for o in outcomes)
    gateway.evaluations._fold_items(ids)  # the fold of a drain that then crashed
    after_crash = gateway.evaluations.store.high_water()
    assert gateway.evaluations.drain() == 2
    assert gateway.evaluations.store.high_water() == after_crash
    rec = gateway.evaluations.store.get(NO)
    assert rec is not None
    assert len(rec.step_supplements) == 1
    assert rec.step_supplements[0][1] is not None
    assert rec.recent_items == ids


def test_one_drainer_at_a_time(gateway: GatewayService, redis_client: redis.Redis) -> None:
    """While one process holds the drain lease, another drains nothing."""
    from gateway.evaluations import Evaluations

    gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
    other = Evaluations(
        redis_client, namespace="gw", settings=gateway.settings.evaluations, clock=gateway.clock
    )
    assert other.store.lock("someone-else", 30_000)
    assert gateway.evaluations.drain() == 0
    other.store.unlock("someone-else")
    assert gateway.evaluations.drain() == 1


def test_drain_while_intakes_run(gateway: GatewayService, redis_url: str) -> None:
    """Three intakes accept 60 dossiers while the drain runs: every one is folded, once."""
    import threading

    errors: list[BaseException] = []

    def intake(t: int) -> None:
        client = redis.Redis.from_url(redis_url)
        other = GatewayService(
            gateway.settings, client, gateway.connector, lifecycle=gateway.lifecycle
        )
        try:
            for i in range(20):
                no = f"{AGENCY}-26100{t + 1}-{i + 1:04d}"
                other.accept(Service.DOSSIER, AGENCY, [national_dossier(no, "2")], client="p")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=intake, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        gateway.evaluations.drain(max_batches=1, batch=7)
    for th in threads:
        th.join()
    gateway.evaluations.drain()
    assert errors == []
    assert gateway.evaluations.store.backlog() == 0
    assert gateway.evaluations.store.high_water() == 60
    nos = {f"{AGENCY}-26100{t + 1}-{i + 1:04d}" for t in range(3) for i in range(20)}
    assert all(gateway.evaluations.store.get(no) is not None for no in nos)


def _comparable(rec: object) -> dict[str, object]:
    import dataclasses

    out: dict[str, object] = dataclasses.asdict(rec)  # type: ignore[call-overload]  # an EvaluationRecord
    out.pop("updated_ms")  # the drain's clock
    return out


def test_items_handed_over_fold_as_read_from_redis(
    gateway: GatewayService, redis_client: redis.Redis
) -> None:
    """With the handoff on, the drain folds the intake's own copy of each item (flags, body,
    agency) and reads only the look-ups, as they are at the drain: the record equals the one a
    drain reading everything from Redis builds."""
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    plain = GatewayService(
        Settings(namespace="plain"), redis_client, connector, lifecycle=gateway.lifecycle
    )
    try:
        gateway.evaluations.handoff = True
        for g, ns in ((gateway, "gw"), (plain, "plain")):
            g.accept(
                Service.DOSSIER,
                AGENCY,
                [national_dossier(NO, "2")],
                client="prov",
                flags=[["owner_id_mismatch"]],
            )
            steps = [national_step("20250103090000", "5", NO)]
            g.accept(Service.PROGRESS, AGENCY, steps, client="prov")
            # Recorded after the intake, before the drain: the drain must see it.
            redis_client.rpush(f"{ns}:idchecks:{NO}", orjson.dumps({"at": 1, "outcome": "match"}))
        assert len(gateway.evaluations._handed) == 2
        assert plain.evaluations._handed == {}
        assert gateway.evaluations.drain() == 2
        assert plain.evaluations.drain() == 2
        assert gateway.evaluations._handed == {}
        handed, read = gateway.evaluations.store.get(NO), plain.evaluations.store.get(NO)
        assert handed is not None
        assert read is not None
        assert handed.flags == ["owner_id_mismatch"]
        assert handed.idchecks == {"match": 1}
        assert _comparable(handed) == _comparable(read)
    finally:
        plain.close()


def test_items_folded_elsewhere_are_not_kept(
    gateway: GatewayService, redis_client: redis.Redis
) -> None:
    """Items another process folded (or a batch read from Redis first) leave the handoff: it
    never keeps what the cursor has passed."""
    from gateway.evaluations import Evaluations

    gateway.evaluations.handoff = True
    gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
    assert len(gateway.evaluations._handed) == 1
    other = Evaluations(
        redis_client, namespace="gw", settings=gateway.settings.evaluations, clock=gateway.clock
    )
    assert other.drain() == 1
    assert gateway.evaluations.drain() == 0
    assert gateway.evaluations._handed == {}
    assert gateway.evaluations.store.get(NO) is not None


def test_a_batch_folds_each_dossier_as_item_after_item(
    gateway: GatewayService, redis_client: redis.Redis
) -> None:
    """A batch folds all items of a dossier in one update: the record is the one a drain of
    one item per batch builds, and so is the record of a batch that stopped halfway and was
    drained again (nothing folded twice)."""
    other = f"{AGENCY}-261005-0002"
    services = {
        ns: GatewayService(
            Settings(namespace=ns), redis_client, gateway.connector, lifecycle=gateway.lifecycle
        )
        for ns in ("one", "all", "half")
    }
    try:
        ids: list[str] = []
        for ns, g in services.items():
            outcomes = [
                *g.accept(
                    Service.DOSSIER,
                    AGENCY,
                    [national_dossier(NO, "2"), national_dossier(other, "2")],
                    client="prov",
                    flags=[["late_sync"], []],
                ),
                *g.accept(
                    Service.PROGRESS,
                    AGENCY,
                    [
                        national_step("20250103090000", "5", NO),
                        national_step("20250104090000", "4", other),
                        national_step("20250105090000", "4", NO),
                    ],
                    client="prov",
                ),
            ]
            redis_client.rpush(f"{ns}:idchecks:{NO}", orjson.dumps({"at": 1, "outcome": "match"}))
            outcomes += g.accept(
                Service.DOSSIER,
                AGENCY,
                [national_dossier(NO, "9", NgayKetThucXuLy="20250106090000")],
                client="prov",
                flags=[["owner_id_mismatch"]],
            )
            assert all(o.accepted and not o.duplicate for o in outcomes)
            ids = sorted(o.delivery_id or "" for o in outcomes)
        one, whole, half = services["one"], services["all"], services["half"]
        assert one.evaluations.drain(batch=1) == 6
        assert whole.evaluations.drain() == 6
        half.evaluations._fold_items(ids[:3])  # the fold of a drain that then crashed
        assert half.evaluations.drain() == 6
        assert whole.evaluations.store.high_water() == 2  # one update per dossier
        for no in (NO, other):
            recs = [g.evaluations.store.get(no) for g in (one, whole, half)]
            assert all(rec is not None for rec in recs)
            assert _comparable(recs[0]) == _comparable(recs[1]) == _comparable(recs[2])
        rec = whole.evaluations.store.get(NO)
        assert rec is not None
        assert (rec.status, rec.finished_status) == ("9", "9")
        # Requested on 3 January 09:00 (UTC+7), closed by the next step on 5 January 09:00.
        assert rec.step_supplements == [[1_735_869_600_000, 1_736_042_400_000]]
        assert rec.flags == ["late_sync", "owner_id_mismatch"]
        assert rec.idchecks == {"match": 1}
        assert len(rec.recent_items) == 4
    finally:
        for g in services.values():
            g.close()


def test_handed_items_the_cursor_passed_are_dropped(gateway: GatewayService) -> None:
    """Most batches look only at the front of the hand-over (ids come in about acceptance
    order); a full look also drops a straggler handed after a larger id."""
    ev = gateway.evaluations
    item = Item("dvcqg.DongBoHoSoMC", AGENCY, NO, b"{}", "", [])
    ev._handed.update({"000000000009": item, "000000000001": item})
    ev._forget(5, everywhere=False)
    assert list(ev._handed) == ["000000000009", "000000000001"], "the front is past the cursor"
    ev._forget(5, everywhere=True)
    assert list(ev._handed) == ["000000000009"]
    ev._handed["000000000003"] = item
    ev._forget(9, everywhere=False)
    assert ev._handed == {}
