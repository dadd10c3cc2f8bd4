"""The case store records each change once, in order, and flow-back survives being redone."""

from __future__ import annotations

import redis
from pydantic import BaseModel

from gateway.connectors.ministry import CaseRef, CaseState, CaseStatus, HandOver, NoOptions
from gateway.ministry import CaseStore
from gateway.testing.records import DOSSIER_NO, Clock, national_dossier


def _store(redis_client: redis.Redis, clock: Clock) -> CaseStore:
    return CaseStore(redis_client, namespace="cs", poll_seconds=lambda s: 60.0, clock=clock)


def _open(store: CaseStore) -> None:
    options: BaseModel = NoOptions()
    handover = HandOver(
        DOSSIER_NO, "2.000488", "A", "lltp", national_dossier(), options, client="prov"
    )
    store.opened("lltp", handover, CaseRef(DOSSIER_NO, "77", "001090012345"), None)


def _status(code: int, state: CaseState = CaseState.PROCESSING) -> CaseStatus:
    return CaseStatus(DOSSIER_NO, str(code), state, case_id="77", order=code)


def test_a_change_is_recorded_once(redis_client: redis.Redis) -> None:
    """The same change twice: new, then dup; one change queued."""
    clock = Clock()
    store = _store(redis_client, clock)
    _open(store)
    assert store.observe("lltp", _status(4)).code == "new"
    assert store.observe("lltp", _status(4)).code == "dup"
    assert len(store.pending(10)) == 1


def test_an_older_change_seen_late_is_stale(redis_client: redis.Redis) -> None:
    """4 then a late 3: the 3 is stale and never queued, so changes stay in order."""
    clock = Clock()
    store = _store(redis_client, clock)
    _open(store)
    assert store.observe("lltp", _status(4)).code == "new"
    assert store.observe("lltp", _status(3, CaseState.RECEIVED)).code == "stale"
    assert [c["status"] for _, _, c in store.pending(10)] == ["4"]


def test_nothing_after_a_settled_case(redis_client: redis.Redis) -> None:
    """Once completed, the case leaves the poll schedule and later changes are stale."""
    clock = Clock()
    store = _store(redis_client, clock)
    _open(store)
    assert store.observe("lltp", _status(5, CaseState.COMPLETED)).code == "new"
    clock.advance(3600)
    assert store.due("lltp", 10) == []
    assert store.observe("lltp", CaseStatus(DOSSIER_NO, "9", CaseState.PROCESSING)).code == "stale"


def test_changes_of_one_instant_get_increasing_times(redis_client: redis.Redis) -> None:
    """Two changes recorded in one millisecond are a second apart (portal steps stay ordered)."""
    clock = Clock()
    store = _store(redis_client, clock)
    _open(store)
    first = store.observe("lltp", _status(3, CaseState.RECEIVED))
    second = store.observe("lltp", _status(4))
    assert second.at_ms - first.at_ms == 1000


def test_unknown_case_is_reported_not_recorded(redis_client: redis.Redis) -> None:
    """A change of a dossier never handed over is "unknown" (the feed leaves it unacknowledged)."""
    store = _store(redis_client, Clock())
    assert store.observe("lltp", _status(4)).code == "unknown"
    assert store.pending(10) == []


def test_opening_twice_keeps_one_case(redis_client: redis.Redis) -> None:
    """Recording the case again (a reconcile after a send) changes nothing but fills the id."""
    clock = Clock()
    store = _store(redis_client, clock)
    _open(store)
    store.observe("lltp", _status(4))
    _open(store)
    case = store.get("lltp", DOSSIER_NO)
    assert case is not None
    assert case.seq == 1
    assert case.case_id == "77"
    assert case.client == "prov"
