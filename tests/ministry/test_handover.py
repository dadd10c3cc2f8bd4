"""A dossier routed to LLTP is handed over once, tracked, and its result flows back once."""

from __future__ import annotations

import redis

from gateway.testing.ministry import build_ministry_rig
from gateway.testing.records import DOSSIER_NO


def test_handover_then_result_by_polling(redis_client: redis.Redis) -> None:
    """Handed over at intake; polling sees 3, 4, 5; the webhook and the portal get each once."""
    rig = build_ministry_rig(redis_client)
    try:
        assert rig.dossier(DOSSIER_NO)
        rig.deliver()
        ledger = rig.lltp.ledger()
        assert ledger["cases"][DOSSIER_NO]["opened"] == 1
        rig.settle()
        assert rig.lltp.ledger()["cases"][DOSSIER_NO]["status"] == 5
        statuses = [e["data"]["status"] for e in rig.events()]
        assert statuses == ["3", "4", "5"]
        channels = {
            e["data"]["channel"] for e in rig.receiver.events if e["type"].startswith("delivery.")
        }
        assert channels == {
            "dvcqg.DongBoHoSoMC",
            "dvcqg.CapNhatTienDoHoSoMC",
            "lltp.nhanHoSoDangKy",
        }
        steps = rig.portal.steps(DOSSIER_NO)
        assert [s["TrangThai"] for s in steps] == ["4", "4", "9"]
        case = rig.gateway.ministry.case("lltp", DOSSIER_NO)  # type: ignore[union-attr]  # configured
        assert case is not None
        assert case["settled"] is True
    finally:
        rig.gateway.close()


_NEVER = 10_000_000.0  # a poll or feed interval no test reaches


def test_result_by_callback_alone(redis_client: redis.Redis) -> None:
    """With polling and the feed out of reach, pushed changes alone bring 3, 4, 5 back once."""
    rig = build_ministry_rig(redis_client, callbacks=True, poll_seconds=_NEVER, feed_seconds=_NEVER)
    try:
        assert rig.dossier(DOSSIER_NO)
        rig.track(force_feed=True)  # reads the feed once now, so it is not due again
        rig.lltp.reset()
        rig.deliver()
        rig.settle(feed=False)
        assert rig.lltp.ledger()["calls"].get("traTrangThaiHs", 0) == 0
        assert rig.lltp.ledger()["callbacks"]["sent"] == 3
        assert [e["data"]["status"] for e in rig.events()] == ["3", "4", "5"]
        assert [s["TrangThai"] for s in rig.portal.steps(DOSSIER_NO)] == ["4", "4", "9"]
    finally:
        rig.gateway.close()


def test_duplicate_callbacks_have_no_second_effect(redis_client: redis.Redis) -> None:
    """Every change pushed twice: still one event and one step per change."""
    from gateway.sandbox.lltp import LltpFaults

    rig = build_ministry_rig(
        redis_client,
        callbacks=True,
        poll_seconds=_NEVER,
        feed_seconds=_NEVER,
        lltp_faults=LltpFaults(duplicate_callback_rate=1.0),
    )
    try:
        rig.track(force_feed=True)
        assert rig.dossier(DOSSIER_NO)
        rig.settle(feed=False)
        assert rig.lltp.ledger()["callbacks"]["duplicates"] == 3
        assert rig.lltp.ledger()["callbacks"]["sent"] == 6
        assert [e["data"]["status"] for e in rig.events()] == ["3", "4", "5"]
        assert len(rig.portal.steps(DOSSIER_NO)) == 3
    finally:
        rig.gateway.close()


def test_result_by_feed_with_every_acknowledgement_lost(redis_client: redis.Redis) -> None:
    """The feed repeats every change (acks lost); each still flows back exactly once."""
    from gateway.sandbox.lltp import LltpFaults

    rig = build_ministry_rig(
        redis_client, poll_seconds=_NEVER, lltp_faults=LltpFaults(lost_ack_rate=1.0)
    )
    try:
        assert rig.dossier(DOSSIER_NO)
        rig.settle()
        ledger = rig.lltp.ledger()
        assert ledger["calls"].get("traTrangThaiHs", 0) == 0
        assert ledger["acks"]["lost"] >= 3
        assert ledger["acks"]["applied"] == 0
        assert ledger["calls"]["traDsTrangThaiHs"] >= 6  # the same changes, seen again and again
        assert [e["data"]["status"] for e in rig.events()] == ["3", "4", "5"]
        assert [s["TrangThai"] for s in rig.portal.steps(DOSSIER_NO)] == ["4", "4", "9"]
    finally:
        rig.gateway.close()


def test_acknowledged_feed_stops_repeating(redis_client: redis.Redis) -> None:
    """With acknowledgements applied, the feed lists nothing once the changes are taken."""
    rig = build_ministry_rig(redis_client, poll_seconds=_NEVER)
    try:
        assert rig.dossier(DOSSIER_NO)
        rig.settle()
        report = rig.track()
        assert report.fed == 0
        assert rig.lltp.ledger()["acks"]["applied"] >= 3
    finally:
        rig.gateway.close()


def test_ambiguous_handover_opens_no_second_case(redis_client: redis.Redis) -> None:
    """The ministry opens the case, then the answer is lost: the retry asks first and does not
    hand over again, even with the ministry's own de-duplication switched off."""
    from gateway.sandbox.faults import Faults

    rig = build_ministry_rig(redis_client, dedupe=False, faults=Faults(timeout_rate=1.0))
    try:
        assert rig.dossier(DOSSIER_NO)
        channel = "lltp.nhanHoSoDangKy"
        rig.gateway.flush(channel, "000.00.01.H22")
        assert rig.lltp.ledger()["cases"][DOSSIER_NO]["opened"] == 1
        rig.lltp.set_faults(Faults())
        rig.clock.advance(60)
        rig.settle()
        ledger = rig.lltp.ledger()
        assert ledger["cases"][DOSSIER_NO]["opened"] == 1
        assert ledger["opened_twice"] == []
        assert ledger["calls"]["nhanHoSoDangKy"] == 1
        assert [e["data"]["status"] for e in rig.events()][-1] == "5"
    finally:
        rig.gateway.close()


def test_redelivered_dossier_is_handed_over_once(redis_client: redis.Redis) -> None:
    """The province sends the dossier again, and a newer state: one hand-over, one case."""
    from gateway.testing.ministry import lltp_forms

    rig = build_ministry_rig(redis_client, dedupe=False)
    try:
        assert rig.dossier(DOSSIER_NO)
        assert rig.dossier(DOSSIER_NO)
        rig.deliver()
        assert rig.dossier(DOSSIER_NO, TrangThaiHoSo="4", ThongTinKhac=lltp_forms())
        rig.settle()
        assert rig.lltp.ledger()["calls"]["nhanHoSoDangKy"] == 1
        assert rig.lltp.ledger()["opened_twice"] == []
    finally:
        rig.gateway.close()


def test_unrouted_procedure_is_not_handed_over(redis_client: redis.Redis) -> None:
    """A dossier of another procedure reaches the portal and no ministry."""
    rig = build_ministry_rig(redis_client)
    try:
        assert rig.dossier(DOSSIER_NO, procedure="1.001612")
        rig.settle(rounds=2)
        assert rig.lltp.ledger()["calls"] == {"traDsTrangThaiHs": 2}
        assert rig.portal.state(DOSSIER_NO) is not None
    finally:
        rig.gateway.close()


def test_flow_back_redone_after_a_crash_is_a_duplicate(redis_client: redis.Redis) -> None:
    """Flow-back interrupted before it unqueued a change: redoing it sends nothing twice."""
    rig = build_ministry_rig(redis_client, poll_seconds=_NEVER)
    try:
        assert rig.dossier(DOSSIER_NO)
        rig.deliver()
        ministry = rig.gateway.ministry
        assert ministry is not None
        store = ministry.store
        ministry.read_feed("lltp", force=True)
        kept = store.pending(10)
        assert len(kept) == 1
        real_done = store.done
        store.done = lambda member: None  # type: ignore[method-assign]  # the crash: never unqueued
        ministry.flow.drain()
        store.done = real_done  # type: ignore[method-assign]  # restarted
        assert store.pending(10) == kept
        ministry.flow.drain()
        assert store.pending(10) == []
        rig.deliver()
        assert [e["data"]["status"] for e in rig.events()] == ["3"]
        assert len(rig.portal.steps(DOSSIER_NO)) == 1
    finally:
        rig.gateway.close()


def test_only_a_received_open_dossier_is_handed_over(redis_client: redis.Redis) -> None:
    """Registered (1) or refused at reception (3): not handed over; received later (2): once."""
    rig = build_ministry_rig(redis_client)
    try:
        assert rig.dossier(DOSSIER_NO, TrangThaiHoSo="1")
        assert rig.dossier("000.00.01.H22-250101-0002", TrangThaiHoSo="3")
        rig.deliver()
        assert rig.lltp.ledger()["calls"].get("nhanHoSoDangKy", 0) == 0
        assert rig.dossier(DOSSIER_NO, TrangThaiHoSo="2", NgayTiepNhan="20250101150000")
        rig.deliver()
        assert list(rig.lltp.ledger()["cases"]) == [DOSSIER_NO]
    finally:
        rig.gateway.close()


def test_corrected_forms_hand_over_after_a_refusal(redis_client: redis.Redis) -> None:
    """Forms the ministry cannot take are dead-lettered; the province's corrected state is
    handed over; a later state with other forms opens no second case."""
    from gateway.testing.ministry import lltp_forms

    rig = build_ministry_rig(redis_client, dedupe=False)
    try:
        assert rig.dossier(DOSSIER_NO, ThongTinKhac=lltp_forms(genderId=9))
        rig.deliver()
        assert rig.gateway.outbox.dead_letter_count() == 1
        assert rig.lltp.ledger()["cases"] == {}
        assert rig.dossier(DOSSIER_NO, TrangThaiHoSo="4", ThongTinKhac=lltp_forms())
        rig.deliver()
        assert rig.lltp.ledger()["cases"][DOSSIER_NO]["opened"] == 1
        assert rig.dossier(DOSSIER_NO, TrangThaiHoSo="5", ThongTinKhac=lltp_forms(phone="0912"))
        rig.settle()
        ledger = rig.lltp.ledger()
        assert ledger["calls"]["nhanHoSoDangKy"] == 1
        assert ledger["opened_twice"] == []
    finally:
        rig.gateway.close()


def test_tracker_thread_starts_and_stops(redis_client: redis.Redis) -> None:
    """start() runs tick on its own thread (signalled, not slept for); stop() ends it."""
    import threading

    rig = build_ministry_rig(redis_client)
    try:
        ministry = rig.gateway.ministry
        assert ministry is not None
        ticked = threading.Event()
        real_tick = ministry.tick

        def tick(**kwargs: object) -> object:
            ticked.set()
            return real_tick()

        ministry.tick = tick  # type: ignore[assignment,method-assign]  # observe the loop
        ministry.start(0.01)
        assert ticked.wait(10)
        ministry.stop()
        assert ministry._thread is None
    finally:
        rig.gateway.close()
