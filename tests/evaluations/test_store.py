"""Evaluation records in the real Redis: atomic updates and the change feed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace

import orjson
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.evaluations import (
    EvaluationRecord,
    EvaluationStore,
    Update,
    decode_cursor,
    encode_cursor,
)
from gateway.evaluations.evaluator import Evaluations
from gateway.evaluations.settings import EvaluationSettings

AGENCY = "000.00.01.H22"


def no(i: int) -> str:
    return f"{AGENCY}-261001-{i + 1:04d}"


def _flags(store: EvaluationStore, dossier_no: str) -> list[str]:
    """The flags of a record the store must hold."""
    rec = store.get(dossier_no)
    assert rec is not None
    return rec.flags


def flagged(flag: str) -> Callable[[EvaluationRecord], EvaluationRecord]:
    def fold(rec: EvaluationRecord) -> EvaluationRecord:
        return replace(rec, flags=[*rec.flags, flag])

    return fold


def test_update_then_get(redis_client: redis.Redis) -> None:
    """An update is readable at once and takes the next feed position."""
    store = EvaluationStore(redis_client, namespace="t")
    assert store.get(no(0)) is None
    assert store.update(no(0), AGENCY, flagged("a")) == 1
    assert store.update(no(1), AGENCY, flagged("b")) == 2
    rec = store.get(no(0))
    assert rec is not None
    assert (rec.no, rec.agency, rec.flags) == (no(0), AGENCY, ["a"])
    assert store.high_water() == 2


def test_a_fold_that_changes_nothing_writes_nothing(redis_client: redis.Redis) -> None:
    """Returning the same record leaves the feed as it was."""
    store = EvaluationStore(redis_client, namespace="t")
    store.update(no(0), AGENCY, flagged("a"))
    assert store.update(no(0), AGENCY, lambda r: r) is None
    assert store.high_water() == 1


def test_a_new_record_created_by_another_writer_meanwhile_is_folded_again(
    redis_client: redis.Redis,
) -> None:
    """Read as new, then created by another writer before the write: the fold runs again on
    the other's record, and the other new records of the call are written once each."""
    store = EvaluationStore(redis_client, namespace="t")
    other = EvaluationStore(redis_client, namespace="t")
    seen: list[list[str]] = []

    def fold(rec: EvaluationRecord) -> EvaluationRecord:
        seen.append(rec.flags)
        if len(seen) == 1:
            other.update(no(0), AGENCY, flagged("other"))
        return replace(rec, flags=[*rec.flags, "mine"])

    seqs = store.apply([Update(no(0), AGENCY, fold), Update(no(1), AGENCY, flagged("b"))])
    assert seen == [[], ["other"]]
    assert seqs == [3, 2]
    assert _flags(store, no(0)) == ["other", "mine"]
    assert _flags(store, no(1)) == ["b"]
    assert store.high_water() == 3


def test_concurrent_writers_lose_no_update(redis_client: redis.Redis, redis_url: str) -> None:
    """Eight threads add 40 flags each to one dossier: all 320 are there."""
    errors: list[BaseException] = []

    def work(t: int) -> None:
        client = redis.Redis.from_url(redis_url)
        store = EvaluationStore(client, namespace="t")
        try:
            for i in range(40):
                store.update(no(0), AGENCY, flagged(f"{t}.{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    rec = EvaluationStore(redis_client, namespace="t").get(no(0))
    assert rec is not None
    assert len(rec.flags) == 320
    assert len(set(rec.flags)) == 320


def test_one_call_of_many_records_and_agencies(redis_client: redis.Redis) -> None:
    """2,500 records under three agencies in one call (more than one ZADD and SADD each): the
    positions follow the order of the updates, every record is listed under its agency, and a
    record whose version moved on meanwhile is retried."""
    store = EvaluationStore(redis_client, namespace="t")
    agencies = [AGENCY, "000.00.02.H22", "000.00.03.H22"]
    store.update(no(7), agencies[7 % 3], flagged("before"))
    calls = 0

    def raced(rec: EvaluationRecord) -> EvaluationRecord:
        nonlocal calls
        calls += 1
        if calls == 1:  # another writer updates the dossier between this read and the write
            EvaluationStore(redis_client, namespace="t").update(no(7), AGENCY, flagged("other"))
        return replace(rec, flags=[*rec.flags, "raced"])

    updates = [
        Update(no(i), agencies[i % 3], raced if i == 7 else flagged(str(i))) for i in range(2500)
    ]
    seqs = store.apply(updates)
    assert calls == 2
    others = [s for i, s in enumerate(seqs) if i != 7]
    assert others == list(range(3, 2502))  # 1: before, 2: the other writer
    assert seqs[7] == 2502  # written on its second try
    assert store.high_water() == 2502
    assert _flags(store, no(7)) == ["before", "other", "raced"]
    assert store.agencies() == set(agencies)
    for k, agency in enumerate(agencies):
        listed = {r.no for r in store.records([agency])}
        assert listed == {no(i) for i in range(2500) if i % 3 == k}
    feed = store.feed(0, 3000)
    assert [seq for seq, _ in feed] == list(range(3, 2503))
    assert [orjson.loads(body)["no"] for _, body in feed[:3]] == [no(0), no(1), no(2)]


def test_identity_lookups_of_some_dossiers(redis_client: redis.Redis) -> None:
    """Only the dossiers with look-ups are answered, each with all of its own, as stored (a
    newline, which would split the reply, read as a space)."""
    store = EvaluationStore(redis_client, namespace="t")
    redis_client.rpush(f"t:idchecks:{no(1)}", b'{"outcome":"match"}', b"", b'{"a":\n1}')
    redis_client.rpush(f"t:idchecks:{no(3)}", b'{"outcome":"mismatch"}')
    nos = [no(i) for i in range(5)]
    assert store.idchecks(nos) == {
        no(1): [b'{"outcome":"match"}', b"", b'{"a": 1}'],
        no(3): [b'{"outcome":"mismatch"}'],
    }
    assert store.idchecks([no(0), no(2)]) == {}
    assert store.idchecks([]) == {}


def test_cursor_round_trip_and_foreign_cursors() -> None:
    """A cursor names its position; anything else is refused."""
    assert decode_cursor(encode_cursor(12345)) == 12345
    assert decode_cursor(None) == 0
    for bad in ("abc", "ZTEuLTE", "x" * 100, encode_cursor(1) + "!!"):
        with pytest.raises(ValueError, match="cursor"):
            decode_cursor(bad)


def drain(
    ev: Evaluations,
    cursor: str | None,
    limit: int,
    seen: list[tuple[str, int]],
    view: dict[str, bytes],
) -> str:
    while True:
        page = ev.feed_page(cursor, limit)
        for seq, body in page.items:
            rec = orjson.loads(body)
            seen.append((rec["no"], seq))
            view[rec["no"]] = body
        cursor = page.next_cursor
        if not page.has_more:
            return cursor


def current(store: EvaluationStore, count: int) -> dict[str, bytes]:
    out = {}
    for i in range(count):
        rec = store.get(no(i))
        if rec is not None:
            out[no(i)] = rec.to_json()
    return out


def check_feed(seen: list[tuple[str, int]]) -> None:
    seqs = [s for _, s in seen]
    assert seqs == sorted(seqs), "positions go forward"
    assert len(seqs) == len(set(seqs)), "no position is served twice"


ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 7)),
        st.tuples(st.just("read"), st.integers(1, 4)),
    ),
    max_size=60,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops)
def test_feed_resumes_without_gaps_or_repeats(
    redis_client: redis.Redis, steps: list[tuple[str, int]]
) -> None:
    """Any interleaving of writes and page reads: positions only go forward, none repeats, and
    after catching up the reader holds exactly the current record of every dossier."""
    ns = uuid.uuid4().hex
    ev = Evaluations(redis_client, namespace=ns, settings=EvaluationSettings(), clock=lambda: 0.0)
    seen: list[tuple[str, int]] = []
    view: dict[str, bytes] = {}
    cursor: str | None = None
    for n, (op, arg) in enumerate(steps):
        if op == "write":
            ev.store.update(no(arg), AGENCY, flagged(str(n)))
        else:
            page = ev.feed_page(cursor, arg)
            for seq, body in page.items:
                seen.append((orjson.loads(body)["no"], seq))
                view[orjson.loads(body)["no"]] = body
            cursor = page.next_cursor
    drain(ev, cursor, 3, seen, view)
    check_feed(seen)
    assert view == current(ev.store, 8)


def test_feed_while_writers_run(redis_client: redis.Redis, redis_url: str) -> None:
    """Four writers update 50 dossiers while a reader pages: nothing lost, nothing repeated."""
    ev = Evaluations(redis_client, namespace="f", settings=EvaluationSettings(), clock=lambda: 0.0)

    def write(t: int) -> None:
        client = redis.Redis.from_url(redis_url)
        store = EvaluationStore(client, namespace="f")
        for i in range(200):
            store.update(no((i * 7 + t) % 50), AGENCY, flagged(f"{t}.{i}"))
        client.close()

    writers = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for w in writers:
        w.start()
    seen: list[tuple[str, int]] = []
    view: dict[str, bytes] = {}
    cursor: str | None = None
    while any(w.is_alive() for w in writers):
        cursor = drain(ev, cursor, 7, seen, view)
    for w in writers:
        w.join()
    drain(ev, cursor, 7, seen, view)
    check_feed(seen)
    assert view == current(ev.store, 50)
    rec = ev.store.get(no(0))
    assert rec is not None
    assert sum(len(_flags(ev.store, no(i))) for i in range(50)) == 800
