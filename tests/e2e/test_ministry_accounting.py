"""Accounting for ministry hand-overs, Jepsen total-queue style, through the faulty sandbox LLTP.

Dossiers of the LLTP procedure are accepted at the intake (some twice), handed over, tracked by
polling, by the changed-cases feed and by callbacks at once, and their changes flow back to the
province's webhook and the portal's steps. The ministry answers 503s and 500s, applies a
hand-over and then times out or drops the connection, times out before applying, loses
acknowledgements and pushes callbacks twice; the portal and the webhook receiver have faults of
their own. The ministry's own de-duplication by ``idReceivedDec`` is switched off, so a second
hand-over would open a second case and be counted. Then: no case lost, none opened twice, and
every change at the webhook and the portal exactly once (redeliveries under one webhook-id
allowed), in order, with each case's result there.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict

import redis

from gateway.sandbox.faults import Faults
from gateway.sandbox.lltp import LltpFaults
from gateway.testing.ministry import build_ministry_rig, lltp_forms

DOSSIERS = 60
SEED = 11
LLTP = Faults(unavailable_rate=0.1, error_rate=0.05, timeout_rate=0.08, drop_rate=0.04, seed=SEED)
LLTP_OWN = LltpFaults(
    early_timeout_rate=0.04, lost_ack_rate=0.6, duplicate_callback_rate=0.3, seed=SEED
)
PORTAL = Faults(unavailable_rate=0.1, timeout_rate=0.04, drop_rate=0.03, seed=SEED + 1)
HOOKS = Faults(unavailable_rate=0.1, timeout_rate=0.05, drop_rate=0.05, seed=SEED + 2)


def test_no_case_lost_or_doubled_no_result_lost_or_repeated(redis_client: redis.Redis) -> None:
    """N dossiers through every fault: every count the checker makes is exact."""
    started = time.monotonic()
    rig = build_ministry_rig(
        redis_client,
        namespace="minacc",
        faults=LLTP,
        lltp_faults=LLTP_OWN,
        dedupe=False,
        callbacks=True,
        poll_seconds=90.0,
        feed_seconds=45.0,
        portal_faults=PORTAL,
        webhook_faults=HOOKS,
    )
    rng = random.Random(SEED)
    numbers = [f"000.00.01.H22-251201-{n:04d}" for n in range(1, DOSSIERS + 1)]
    try:
        for i, no in enumerate(numbers):
            forms = lltp_forms(identify_no=f"0010900{i:05d}")
            assert rig.dossier(no, ThongTinKhac=forms)
            if rng.random() < 0.2:
                assert rig.dossier(no, ThongTinKhac=forms)  # the province repeats itself
            if i % 8 == 7:
                rig.deliver()
                rig.track()
                rig.clock.advance(20)
        for _ in range(40):
            rig.settle(rounds=1, step=45.0)
            if _all_settled(rig, numbers):
                break
        rig.lltp.set_faults(Faults())
        rig.settle(rounds=3, step=45.0)  # what is still retrying once the faults stop

        ledger = rig.lltp.ledger()
        # No case lost, none opened twice.
        assert sorted(ledger["cases"]) == numbers
        assert ledger["opened_twice"] == []
        assert rig.gateway.outbox.dead_letter_count() == 0
        for no in numbers:
            case = rig.gateway.cases.get("lltp", no)  # type: ignore[union-attr]  # configured
            assert case is not None, no
            assert case.case_id == ledger["cases"][no]["ids"][0]
            assert case.terminal, no

        # Every change at the webhook exactly once (one webhook-id), in order, result included.
        ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        first_seen: dict[str, list[str]] = defaultdict(list)
        for event in rig.events():
            key = (event["data"]["dossier_no"], event["data"]["status"])
            if not ids[key]:
                first_seen[key[0]].append(key[1])
            ids[key].add(event["id"])
        assert {k: v for k, v in ids.items() if len(v) > 1} == {}
        for no in numbers:
            assert first_seen[no] == sorted(first_seen[no]), no
            assert first_seen[no][-1] == "5", no

        # Every change at the portal once, in time order, one "finished" step per dossier.
        for no in numbers:
            steps = rig.portal.steps(no)
            keys = [(s["ThoiDiemXuLy"], s["TrangThai"]) for s in steps]
            assert len(keys) == len(set(keys)), no
            assert keys == sorted(keys), no
            assert [s["TrangThai"] for s in steps].count("9") == 1, no
            assert len(steps) == len(first_seen[no]), no

        # The faults did happen.
        faults = ledger["faults"]
        for kind in ("unavailable", "error", "applied_then_timeout", "applied_then_drop"):
            assert faults.get(kind, 0) > 0, kind
        assert faults.get("early_timeout", 0) > 0
        assert ledger["acks"]["lost"] > 0, (ledger["acks"], ledger["calls"])
        assert ledger["callbacks"]["duplicates"] > 0
        assert rig.receiver.outcomes["unavailable"] > 0
    finally:
        rig.gateway.close()
    assert time.monotonic() - started < 40


def _all_settled(rig: object, numbers: list[str]) -> bool:
    from gateway.testing.ministry import MinistryRig

    assert isinstance(rig, MinistryRig)
    cases = rig.gateway.cases
    assert cases is not None
    settled = all((c := cases.get("lltp", n)) is not None and c.terminal for n in numbers)
    return settled and not cases.pending(1) and not rig.waiting()
