"""IdempotencyStore: a claim is settled only by the request that still holds it."""

from __future__ import annotations

import redis

from gateway.api.idempotency import Claim, IdempotencyStore, StoredResponse

FP = "f" * 64


def test_lapsed_claim_does_not_overwrite_the_request_that_took_over(
    redis_client: redis.Redis,
) -> None:
    """A request slower than the in-flight TTL loses its claim; its result is not stored."""
    store = IdempotencyStore(redis_client, namespace="t", ttl_seconds=86_400)
    slow = store.begin("c", "k", FP)
    assert isinstance(slow, Claim)
    redis_client.delete("t:idem:c:k")  # the in-flight marker expired
    fast = store.begin("c", "k", FP)
    assert isinstance(fast, Claim)
    assert not store.finish("c", "k", FP, slow, StoredResponse(202, b'{"who": "slow"}'))
    assert not store.abandon("c", "k", slow)
    assert store.finish("c", "k", FP, fast, StoredResponse(202, b'{"who": "fast"}'))
    replay = store.begin("c", "k", FP)
    assert isinstance(replay, StoredResponse)
    assert replay.body == b'{"who": "fast"}'


def test_lapsed_claim_with_nobody_else_still_stores_its_response(
    redis_client: redis.Redis,
) -> None:
    """If the marker lapsed and no one took the key, the finished response is still kept."""
    store = IdempotencyStore(redis_client, namespace="t", ttl_seconds=86_400)
    claim = store.begin("c", "k", FP)
    assert isinstance(claim, Claim)
    redis_client.delete("t:idem:c:k")
    assert store.finish("c", "k", FP, claim, StoredResponse(202, b"{}"))
    assert isinstance(store.begin("c", "k", FP), StoredResponse)


def test_abandon_releases_the_key(redis_client: redis.Redis) -> None:
    """A failed request's claim is removed, so the same key can be used again."""
    store = IdempotencyStore(redis_client, namespace="t", ttl_seconds=86_400)
    claim = store.begin("c", "k", FP)
    assert isinstance(claim, Claim)
    assert store.abandon("c", "k", claim)
    assert isinstance(store.begin("c", "k", FP), Claim)
