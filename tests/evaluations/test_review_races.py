"""Review of the drain pacing / put script / store-timeout change: races against a real Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.evaluations import Evaluations
from gateway.evaluations.store import _PUT
from gateway.runtime import RedisServer
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.lost_reply import client_losing_one_reply
from gateway.testing.records import national_step

AGENCY = "000.00.01.H22"
NO = f"{AGENCY}-261005-0001"


@pytest.fixture
def gateway(redis_client: redis.Redis) -> Iterator[GatewayService]:
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    g = GatewayService(Settings(), redis_client, connector)
    yield g
    g.close()


def _steps(n: int) -> list[Any]:
    # Supplement requested (5), then resumed (4), alternately, a minute apart.
    out = []
    for i in range(n):
        t = time.strftime("%Y%m%d%H%M%S", time.gmtime(1735700000 + 60 * i))
        out.append(national_step(t, "5" if i % 2 == 0 else "4", NO))
    return out


def test_a_put_resent_after_it_ran_folds_no_item_twice(
    gateway: GatewayService, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """The put script ran, its reply timed out (``redis_timeout_seconds``), redis-py sent it
    again: the resend finds the versions moved on (-1), the batch is read back and folded
    again, and only the last 32 items of a dossier are recognised as folded: with 40 steps of
    one dossier in the batch, the first 8 are folded a second time on top of the 40."""
    for chunk in range(0, 40, 5):
        gateway.accept(Service.PROGRESS, AGENCY, _steps(40)[chunk : chunk + 5], client="prov")
    assert gateway.evaluations.store.backlog() == 40

    # The reference: the same batch folded once, by a drain whose replies all arrive.
    clean = Evaluations(
        redis_client, namespace="ref", settings=gateway.settings.evaluations, clock=gateway.clock
    )
    for key in redis_client.scan_iter("gw:rec:*"):
        redis_client.copy(key, "ref:rec:" + key.decode().split(":", 2)[2])
    redis_client.set("ref:seq", redis_client.get("gw:seq") or 0)
    assert clean.drain() == 40
    expected = clean.store.get(NO)
    assert expected is not None

    put = redis_client.script_load(_PUT)
    flaky, lost = client_losing_one_reply(
        redis_server.socket_path,
        lambda args: len(args) > 1 and str(args[0]).upper() == "EVALSHA" and args[1] == put,
    )
    try:
        ev = Evaluations(
            flaky, namespace="gw", settings=gateway.settings.evaluations, clock=gateway.clock
        )
        assert ev.drain() == 40
    finally:
        flaky.close()
    assert lost.fired == 1, "the put's reply was lost once and the script resent"
    rec = gateway.evaluations.store.get(NO)
    assert rec is not None
    assert len(rec.step_supplements) == len(expected.step_supplements) == 20
    assert rec.supplement_count == expected.supplement_count
    assert gateway.evaluations.store.high_water() == 1, "the resend writes nothing more"


def test_the_drain_thread_survives_an_error_that_is_not_redis(gateway: GatewayService) -> None:
    """Any exception in a round (the busy probe, a fold) ends ``_run`` for good: the
    background drain stops, handoff stays on and the hand-over fills up to 50,000 items."""
    ev = gateway.evaluations
    calls = threading.Semaphore(0)
    raised = threading.Event()

    def busy() -> bool:
        calls.release()
        if not raised.is_set():
            raised.set()
            raise ValueError("a bug in the probe")
        return False

    ev.pacer._busy = busy
    ev.start()
    try:
        gateway.accept(Service.PROGRESS, AGENCY, _steps(1), client="prov")
        assert calls.acquire(timeout=5)
        gateway.accept(Service.PROGRESS, AGENCY, _steps(2)[1:], client="prov")
        # The thread asks again on the next round if it is still alive.
        assert calls.acquire(timeout=5), "the drain thread died on the first error"
    finally:
        ev.stop()


def test_a_batch_folded_twice_folds_each_item_once(gateway: GatewayService) -> None:
    """A crash between the put and the cursor's advance (or a lease that lapsed mid-batch and
    a second drainer) folds the batch again: more than 32 items of one dossier in it, and the
    first ones fold twice."""
    for chunk in range(0, 40, 5):
        gateway.accept(Service.PROGRESS, AGENCY, _steps(40)[chunk : chunk + 5], client="prov")
    ids = [f"{i:012d}" for i in range(1, 41)]
    gateway.evaluations._fold_items(ids)  # the fold of a drain that then crashed
    once = gateway.evaluations.store.get(NO)
    assert once is not None
    assert gateway.evaluations.drain() == 40
    rec = gateway.evaluations.store.get(NO)
    assert rec is not None
    assert rec.step_supplements == once.step_supplements
    assert gateway.evaluations.store.high_water() == 1


class _Signalling:
    """A drop-in for ``Evaluations._drain_lock`` that says when a drain has to wait for it."""

    def __init__(self, contended: threading.Event) -> None:
        self._lock = threading.Lock()
        self._contended = contended

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self._contended.set()
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_two_drains_in_one_process_take_turns(
    gateway: GatewayService, redis_client: redis.Redis
) -> None:
    """The background thread and a reader (scorecard, feed page) drain with the same token, so
    both held "the" lease at once: both folded the same batches, the slower could move the
    cursor back, and the first to finish gave the lease up while the other still folded (a
    third drainer, in another process, could then start)."""
    from gateway.evaluations.store import EvaluationStore
    from gateway.testing.records import national_dossier

    ev = gateway.evaluations
    for start in range(0, 2000, 100):
        records = [
            national_dossier(f"{AGENCY}-261005-{i:04d}", "2") for i in range(start + 1, start + 101)
        ]
        gateway.accept(Service.DOSSIER, AGENCY, records, client="prov")
    assert ev.store.backlog() == 2000
    at_advance, go_on, turn = threading.Event(), threading.Event(), threading.Event()
    reader_done = threading.Event()
    real_advance = ev.store.advance
    ev._drain_lock = _Signalling(turn)  # type: ignore[assignment]

    def advance(token: str, cursor: int) -> bool:
        if threading.current_thread() is background and not at_advance.is_set():
            at_advance.set()  # the background drain folded 1..1000, and is slow to go on
            assert go_on.wait(10)
        return real_advance(token, cursor)

    def reader() -> None:
        ev.drain(max_batches=20)
        reader_done.set()
        turn.set()  # finished without waiting for its turn

    background = threading.Thread(target=lambda: ev.drain(max_batches=1))
    ev.store.advance = advance  # type: ignore[method-assign]
    background.start()
    assert at_advance.wait(10)
    folding = threading.Thread(target=reader)
    folding.start()
    assert turn.wait(10)
    other = EvaluationStore(redis_client, namespace="gw")
    taken = other.lock("another-process", 30_000)  # while the background drain still folds
    finished_meanwhile = reader_done.is_set()
    go_on.set()
    background.join(10)
    folding.join(10)
    assert not finished_meanwhile, "the reader folded while the background drain held the lease"
    assert not taken, "the lease was given up while a drain of this process still held it"
    assert ev.store.cursor() == 2000
