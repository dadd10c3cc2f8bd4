"""The audit hash chain: appends link up, verify proves it or names the first bad entry."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.audit import GENESIS, AuditChain
from gateway.errors import AuditUnavailableError
from tests._redis import xrange


def _chain(client: redis.Redis) -> AuditChain:
    return AuditChain(client, "gw", clock=lambda: 1_700_000_000.0)


def _at_once(write: Callable[[int], None], count: int = 8) -> None:
    """``write(0)`` … ``write(count - 1)`` in threads released together; returns when all end."""
    barrier = threading.Barrier(count)

    def run(t: int) -> None:
        barrier.wait()
        write(t)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _rewrite(
    client: redis.Redis,
    chain: AuditChain,
    seq: int,
    change: dict[str, object],
    *,
    rehash: bool = False,
) -> None:
    """Rebuild the stream with the same ids, entry ``seq``'s body altered (an attacker's edit);
    ``rehash`` also recomputes that entry's own hash, as a careful attacker would."""
    rows = xrange(client, chain.key)
    client.delete(chain.key)
    for entry_id, fields in rows:
        doc = orjson.loads(fields[b"body"])
        if doc["seq"] == seq:
            doc.update(change)
            body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
            fields = {**fields, b"body": body}
            if rehash:
                fields[b"hash"] = hashlib.sha256(body).hexdigest().encode()
        client.xadd(chain.key, fields, id=entry_id)  # type: ignore[arg-type]  # bytes keys are valid fields


def test_entries_link_and_verify(redis_client: redis.Redis) -> None:
    """Each entry carries its seq and the previous hash; verify walks them all and is ok."""
    chain = _chain(redis_client)
    for n in range(5):
        assert chain.append("operator", {"action": "replay", "target": str(n)}) == n + 1
    result = chain.verify()
    assert result.ok, result.broken
    assert result.entries == 5
    docs = list(chain.export(None, None))
    assert [d["seq"] for d in docs] == [1, 2, 3, 4, 5]
    assert docs[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(docs))
    assert result.head == f"5:{docs[-1]['hash']}"


def test_altered_entry_is_named(redis_client: redis.Redis) -> None:
    """Changing one entry's content makes verify name exactly that entry."""
    chain = _chain(redis_client)
    for n in range(6):
        chain.append("operator", {"action": "discard", "reason": f"r{n}"})
    _rewrite(redis_client, chain, 4, {"reason": "nothing to see"})
    result = chain.verify()
    assert not result.ok
    assert result.broken is not None
    assert result.broken.seq == 4
    assert "altered" in result.broken.problem
    assert result.entries == 3


def test_rehashed_entry_breaks_the_next_link(redis_client: redis.Redis) -> None:
    """An attacker who also recomputes the altered entry's hash is caught at the next entry."""
    chain = _chain(redis_client)
    for n in range(4):
        chain.append("operator", {"n": n})
    _rewrite(redis_client, chain, 2, {"n": 99}, rehash=True)
    result = chain.verify()
    assert result.broken is not None
    assert result.broken.seq == 3
    assert "prev" in result.broken.problem


def test_removed_entry_is_named(redis_client: redis.Redis) -> None:
    """Deleting an entry makes verify name the position where it is missing."""
    chain = _chain(redis_client)
    for n in range(5):
        chain.append("exchange", {"n": n})
    third = xrange(redis_client, chain.key)[2][0]
    redis_client.xdel(chain.key, third)
    result = chain.verify()
    assert result.broken is not None
    assert result.broken.seq == 3
    assert "removed" in result.broken.problem


def test_truncated_tail_is_caught_by_the_head(redis_client: redis.Redis) -> None:
    """Cutting off the newest entry leaves the head pointing past the end: not ok."""
    chain = _chain(redis_client)
    for n in range(3):
        chain.append("exchange", {"n": n})
    last = xrange(redis_client, chain.key)[-1][0]
    redis_client.xdel(chain.key, last)
    result = chain.verify()
    assert result.broken is not None
    assert result.broken.entry_id == "(head)"


def test_concurrent_writers_never_fork(redis_client: redis.Redis) -> None:
    """Eight threads appending at once still make one unbroken chain with every entry.

    A failed append is collected, not lost with its thread: it was a lost race (one thread could
    lose 100 in a row under load) before the threads of one chain took turns."""
    chain = _chain(redis_client)
    failed: list[BaseException] = []
    seqs: list[int] = []

    def write(t: int) -> None:
        try:
            for n in range(50):
                seqs.append(chain.append("exchange", {"thread": t, "n": n}))
        except AuditUnavailableError as exc:
            failed.append(exc)

    _at_once(write)
    assert failed == []
    result = chain.verify()
    assert result.ok, result.broken
    assert result.entries == 400
    entries = list(chain.export(None, None))
    seen = {(d["thread"], d["n"]) for d in entries}
    assert len(seen) == 400
    # Each append answered its own entry's seq, whoever wrote it.
    assert sorted(seqs) == list(range(1, 401))
    by_seq = {d["seq"]: (d["thread"], d["n"]) for d in entries}
    for t in range(8):
        mine = sorted(seq for seq, (thread, _) in by_seq.items() if thread == t)
        assert [by_seq[seq][1] for seq in mine] == list(range(50))  # in each thread's order


def test_writers_of_separate_chains_never_fork(redis_client: redis.Redis) -> None:
    """Two chain objects on their own connections (two processes, as the API and a worker are),
    four threads each appending at once: one unbroken chain with every entry.

    Their appends race in the compare-and-set script; before lost races paused, one of them
    could lose 100 in a row under load and fail with "too much contention"."""
    given = redis_client.connection_pool
    clients = [
        redis.Redis(
            connection_pool=redis.ConnectionPool(
                connection_class=given.connection_class, **given.connection_kwargs
            )
        )
        for _ in range(2)
    ]
    chains = [AuditChain(c, "gw", clock=lambda: 1_700_000_000.0) for c in clients]
    failed: list[BaseException] = []

    def write(t: int) -> None:
        try:
            for n in range(50):
                chains[t % 2].append("exchange", {"thread": t, "n": n})
        except AuditUnavailableError as exc:
            failed.append(exc)

    _at_once(write)
    for c in clients:
        c.close()
    assert failed == []
    result = chains[0].verify()
    assert result.ok, result.broken
    assert result.entries == 400
    seen = {(d["thread"], d["n"]) for d in chains[0].export(None, None)}
    assert len(seen) == 400


def test_export_by_time(redis_client: redis.Redis) -> None:
    """Export selects entries by their stream time (ms), inclusive at both ends."""
    chain = _chain(redis_client)
    for n in range(3):
        chain.append("exchange", {"n": n})
    ids = [int(i.split(b"-")[0]) for i, _ in xrange(redis_client, chain.key)]
    assert [d["n"] for d in chain.export(ids[0], ids[-1])] == [0, 1, 2]
    assert list(chain.export(ids[-1] + 1, None)) == []


def test_unreachable_store_raises_and_is_not_writable(tmp_path: object) -> None:
    """A store that cannot be reached fails the append and makes writable() false."""
    client = redis.Redis(unix_socket_path=f"{tmp_path}/absent.sock", retry=Retry(NoBackoff(), 0))
    chain = AuditChain(client, "gw", probe_seconds=1.0)
    assert chain.writable() is False
    assert chain.failure is not None
    assert "ConnectionError" in chain.failure
    with pytest.raises(AuditUnavailableError):
        chain.append("operator", {"action": "replay"})


def test_a_successful_append_puts_off_the_probe(redis_client: redis.Redis) -> None:
    """While healthy, an append proves the store writable: no probe write until probe_seconds
    after it; then writable() probes again."""
    now = [100.0]
    chain = AuditChain(redis_client, "gw", probe_seconds=1.0, monotonic=lambda: now[0])
    probe_key = "gw:auditchain:probe"
    assert chain.writable() is True  # the first call probes
    assert redis_client.exists(probe_key) == 1
    redis_client.delete(probe_key)
    now[0] = 100.5
    chain.append("exchange", {"n": 1})
    now[0] = 101.2  # a probe would be due 1 s after the first, but the append was at 100.5
    assert chain.writable() is True
    assert redis_client.exists(probe_key) == 0
    now[0] = 101.5
    assert chain.writable() is True
    assert redis_client.exists(probe_key) == 1


def test_one_write_links_queued_entries_and_refuses_only_a_bad_one(
    redis_client: redis.Redis,
) -> None:
    """Entries queued while another write was in flight go in one script call, linked in order;
    one whose fields cannot be encoded gets its error and no link, the others are written."""
    from gateway.audit.chain import _Pending

    chain = _chain(redis_client)
    chain.append("exchange", {"n": 0})
    batch = [
        _Pending("exchange", {"n": 1}, 1),
        _Pending("exchange", {"n": object()}, 2),
        _Pending("operator", {"n": 3}, 3),
    ]
    chain._write(batch)
    assert [(p.written, p.seq) for p in batch] == [(True, 2), (True, 0), (True, 3)]
    assert batch[0].error is None
    assert isinstance(batch[1].error, TypeError)
    assert batch[2].error is None
    result = chain.verify()
    assert result.ok, result.broken
    assert [(d["seq"], d["n"], d["kind"]) for d in chain.export(None, None)] == [
        (1, 0, "exchange"),
        (2, 1, "exchange"),
        (3, 3, "operator"),
    ]


def _losing_replies(
    path: str,
    lost: list[int],
    between: Callable[[], None] = lambda: None,
    *,
    every: int = 1,
    retries: int = 1,
) -> redis.Redis:
    """A client (one retry, as the service's audit store has) whose connection, while ``lost[0]``
    counts down, drops the reply to an EVALSHA that Redis did run: the connection died after the
    script's effects and before its answer arrived (a killed connection, a socket timeout, a
    restart after the AOF had it). ``between`` runs after the loss, before the client retries;
    ``every``: only every so many EVALSHA replies are lost."""
    calls = itertools.count(1)

    class ReplyLost(redis.UnixDomainSocketConnection):
        command = ""

        def send_command(self, *args: Any, **kwargs: Any) -> None:
            self.command = str(args[0]).upper() if args else ""
            super().send_command(*args, **kwargs)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            response = super().read_response(*args, **kwargs)
            if self.command == "EVALSHA" and next(calls) % every == 0 and lost[0] > 0:
                lost[0] -= 1
                self.disconnect()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                between()
                raise redis.ConnectionError("connection lost before the reply")
            return response

    pool = redis.ConnectionPool(
        connection_class=ReplyLost, path=path, retry=Retry(NoBackoff(), retries)
    )
    return redis.Redis(connection_pool=pool)


@pytest.mark.parametrize("another_writer_between", [False, True])
def test_a_replayed_append_whose_reply_was_lost_is_written_once(
    redis_client: redis.Redis, another_writer_between: bool
) -> None:
    """redis-py retries a command whose reply was lost, so the script runs a second time after its
    first run moved the head: that replay must be recognised as done, not taken for a lost race
    and written again as the next links (the entry twice, the caller answered the copy's seq).
    Also when another writer appended between the first run and the replay."""
    path = str(redis_client.connection_pool.connection_kwargs["path"])
    other = _chain(redis_client)
    lost = [1]

    def between() -> None:
        if another_writer_between:
            other.append("operator", {"by": "other"})

    client = _losing_replies(path, lost, between)
    chain = _chain(client)
    try:
        assert chain.append("exchange", {"n": 1}) == 1
        assert lost == [0]  # the reply was lost and the client retried
        assert chain.append("exchange", {"n": 2}) == (3 if another_writer_between else 2)
    finally:
        client.close()
    result = chain.verify()
    assert result.ok, result.broken
    got = [(d["seq"], d.get("n"), d.get("by")) for d in chain.export(None, None)]
    if another_writer_between:
        assert got == [(1, 1, None), (2, None, "other"), (3, 2, None)]
    else:
        assert got == [(1, 1, None), (2, 2, None)]


class _TurnLock:
    """Stands in for the chain's append lock: counts the appends that reached it (their entries
    are queued by then), so a test knows when they all wait, without sleeping."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived = threading.Semaphore(0)

    def __enter__(self) -> _TurnLock:
        self.arrived.release()
        self.lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_appends_taken_by_a_write_that_raised_raise_too(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two appends queued together; the write that takes both raises something unforeseen: its
    caller gets that, the other append raises AuditUnavailableError (never a seq), neither hangs,
    and nothing is in the chain."""
    chain = _chain(redis_client)
    turn = _TurnLock()
    monkeypatch.setattr(chain, "_append_lock", turn)
    calls: list[int] = []

    def script(**kwargs: Any) -> Any:
        calls.append(len(kwargs["args"]))
        raise RuntimeError("unforeseen")

    monkeypatch.setattr(chain, "_script", script)
    outcomes: dict[int, object] = {}

    def write(n: int) -> None:
        try:
            outcomes[n] = chain.append("exchange", {"n": n})
        except (RuntimeError, AuditUnavailableError) as exc:
            outcomes[n] = type(exc)

    turn.lock.acquire()  # both queue before either writes, so one write takes both
    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for _ in threads:
        assert turn.arrived.acquire(timeout=10)
    turn.lock.release()
    for t in threads:
        t.join(timeout=10)
        assert not t.is_alive(), "an append hung"
    assert sorted(map(str, outcomes.values())) == sorted(
        map(str, [RuntimeError, AuditUnavailableError])
    )
    assert calls == [3 + 2 * 2]  # one script call with both entries
    assert redis_client.xlen(chain.key) == 0


def test_an_append_interrupted_while_waiting_is_not_written_later(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append interrupted (KeyboardInterrupt) while waiting its turn raised, so its entry must
    not stay queued for the next append to write into the chain, much later."""
    chain = _chain(redis_client)
    real = chain._append_lock

    class Interrupted:
        def __enter__(self) -> None:
            raise KeyboardInterrupt

        def __exit__(self, *exc: object) -> None:
            raise AssertionError("never entered")

    monkeypatch.setattr(chain, "_append_lock", Interrupted())
    with pytest.raises(KeyboardInterrupt):
        chain.append("exchange", {"n": 1})
    monkeypatch.setattr(chain, "_append_lock", real)
    assert chain.append("exchange", {"n": 2}) == 1
    assert [(d["seq"], d["n"]) for d in chain.export(None, None)] == [(1, 2)]
    assert chain.verify().ok


def test_verify_names_an_altered_entry_of_a_group_write(redis_client: redis.Redis) -> None:
    """Entries written together are each their own link: altering the middle one of a group is
    named at its own seq, and archive refuses the broken chain."""
    from gateway.audit.chain import _Pending

    chain = _chain(redis_client)
    chain._write([_Pending("exchange", {"n": n}, n) for n in range(1, 4)])
    assert chain.verify().entries == 3
    _rewrite(redis_client, chain, 2, {"n": 99})
    result = chain.verify()
    assert result.broken is not None
    assert (result.broken.seq, result.entries) == (2, 1)
    assert "altered" in result.broken.problem
    with pytest.raises(ValueError, match="does not verify"):
        chain.archive(2_000_000_000_000, io.BytesIO())


@contextlib.contextmanager
def _unwritable(client: redis.Redis) -> Iterator[None]:
    """The session's Redis refuses every write (NOREPLICAS: it wants a replica it has not got),
    as a primary cut off from its replicas does; set back after, the server is shared."""
    client.config_set("min-replicas-to-write", 1)
    try:
        yield
    finally:
        client.config_set("min-replicas-to-write", 0)


def test_a_store_that_fails_after_an_append_closes_the_gate_at_the_next_append(
    redis_client: redis.Redis,
) -> None:
    """The append that put the probe off proves nothing about the store after it: the next
    append that fails makes writable() False at once (the intake answers 503), and it stays
    False, probing every probe_seconds, until a probe finds the store writable."""
    now = [100.0]
    chain = AuditChain(redis_client, "gw", probe_seconds=1.0, monotonic=lambda: now[0])
    assert chain.writable() is True
    now[0] = 100.5
    chain.append("exchange", {"n": 1})  # puts the probe off to 101.5
    with _unwritable(redis_client):
        now[0] = 100.6
        with pytest.raises(AuditUnavailableError):
            chain.append("exchange", {"n": 2})
        assert chain.writable() is False  # no probe due: the failed append decides
        assert chain.failure is not None
        now[0] = 101.6
        assert chain.writable() is False  # the probe due now fails too
    now[0] = 101.7
    chain.append("exchange", {"n": 3})  # the store takes writes again...
    assert chain.writable() is False  # ... but only a probe reopens the gate
    now[0] = 102.7
    assert chain.writable() is True
    assert [d["n"] for d in chain.export(None, None)] == [1, 3]


def test_a_probe_answered_before_an_append_failed_does_not_clear_that_failure(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe write that Redis took, then an append that failed while the probe's thread had
    not yet looked at its answer: the failure is newer than the probe's success, so the gate
    stays shut (it reopened until the next probe, while every append failed)."""
    now = [100.0]
    chain = AuditChain(redis_client, "gw", probe_seconds=1.0, monotonic=lambda: now[0])
    chain.append("exchange", {"n": 1})
    real_set = redis_client.set
    failed: list[AuditUnavailableError] = []

    def probe_then_failure(*args: Any, **kwargs: Any) -> Any:
        answer = real_set(*args, **kwargs)
        with _unwritable(redis_client):
            try:
                chain.append("exchange", {"n": 2})  # another thread, meanwhile
            except AuditUnavailableError as exc:
                failed.append(exc)
        return answer

    monkeypatch.setattr(redis_client, "set", probe_then_failure)
    now[0] = 101.5  # the probe is due
    assert chain.writable() is False
    assert len(failed) == 1
    assert chain.failure is not None


def test_each_append_of_a_failed_write_raises_an_error_of_its_own(
    redis_client: redis.Redis,
) -> None:
    """A write of several entries that Redis refused: each append gets its own exception (one
    shared object raised in several threads gathers all their tracebacks), with the cause."""
    from gateway.audit.chain import _Pending

    chain = _chain(redis_client)
    batch = [_Pending("exchange", {"n": n}, n) for n in range(2)]
    with _unwritable(redis_client):
        chain._write(batch)
    first, second = (p.error for p in batch)
    assert isinstance(first, AuditUnavailableError)
    assert isinstance(second, AuditUnavailableError)
    assert first is not second
    assert str(first) == str(second) == chain.failure
    assert isinstance(first.__cause__, redis.ResponseError)
    assert redis_client.xlen(chain.key) == 0


class _Unreadable(Mapping[str, object]):
    """Fields that fail while read (a lazy mapping whose source went away)."""

    def __getitem__(self, key: str) -> object:
        raise LookupError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(["gone"])

    def __len__(self) -> int:
        return 1


def test_an_entry_whose_fields_fail_while_read_fails_alone(redis_client: redis.Redis) -> None:
    """Not only orjson's TypeError: whatever building one entry's body raises is that entry's,
    and the entries written with it still go in (the whole write raised, failing them too)."""
    from gateway.audit.chain import _Pending

    chain = _chain(redis_client)
    batch = [
        _Pending("exchange", {"n": 1}, 1),
        _Pending("exchange", _Unreadable(), 2),
        _Pending("exchange", {"n": 3}, 3),
    ]
    chain._write(batch)
    assert [(p.written, p.seq) for p in batch] == [(True, 1), (True, 0), (True, 2)]
    assert isinstance(batch[1].error, LookupError)
    assert batch[0].error is None
    assert batch[2].error is None
    assert [d["n"] for d in chain.export(None, None)] == [1, 3]
    assert chain.verify().ok


def test_concurrent_writers_losing_replies_write_each_entry_once(redis_client: redis.Redis) -> None:
    """Two chain objects (two processes), four threads each, every seventh script reply lost
    after Redis ran it: no entry twice, each append answered its own entry's seq, one unbroken
    chain. An append may fail (its retries lost too); its entry is then in the chain at most
    once."""
    path = str(redis_client.connection_pool.connection_kwargs["path"])
    lost = [10**9]
    clients = [_losing_replies(path, lost, every=7, retries=3) for _ in range(2)]
    chains = [_chain(c) for c in clients]
    answered: dict[tuple[int, int], int] = {}
    failed: list[tuple[int, int]] = []

    def write(t: int) -> None:
        for n in range(25):
            try:
                answered[(t, n)] = chains[t % 2].append("exchange", {"thread": t, "n": n})
            except AuditUnavailableError:
                failed.append((t, n))

    _at_once(write)
    for c in clients:
        c.close()
    assert lost[0] < 10**9  # replies were lost
    result = chains[0].verify()
    assert result.ok, result.broken
    entries = list(chains[0].export(None, None))
    written = [(d["thread"], d["n"]) for d in entries]
    assert len(written) == len(set(written))  # none twice
    by_seq = {d["seq"]: (d["thread"], d["n"]) for d in entries}
    for key, seq in answered.items():
        assert by_seq[seq] == key
    assert set(answered) | set(failed) == {(t, n) for t in range(8) for n in range(25)}
