"""Review: which Redis errors are a 503 (the store is unavailable) and which are our bug (500)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest
import redis

from gateway.api.idempotency import Claim, IdempotencyStore
from gateway.runtime import RedisServer
from gateway.service import GatewayService
from gateway.testing.lost_reply import client_losing_one_reply

from .conftest import ApiClient, provincial_dossier

PROV = {"Authorization": "Bearer prov-key", "Idempotency-Key": "k-bug"}


def test_a_script_error_is_a_500_not_store_unavailable(
    service: GatewayService,
    api: ApiClient,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A key of the wrong type (a bug, or data another version wrote) makes the intake's
    script fail with a ResponseError: the store answered, so this is no outage to retry
    every 5 seconds, and the traceback must reach the log."""
    redis_client.hset(f"{service.settings.namespace}:seq", "x", "1")  # WRONGTYPE for GET
    with caplog.at_level(logging.ERROR):
        answer = api.post("/v1/dossiers", json=provincial_dossier(), headers=PROV)
    assert answer.status_code == 500, answer.text
    assert any(r.exc_info for r in caplog.records), "no traceback logged"


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (redis.ConnectionError("gone"), True),
        (redis.TimeoutError("hung"), True),
        (redis.exceptions.BusyLoadingError("LOADING"), True),
        (redis.exceptions.ReadOnlyError("READONLY"), True),
        (redis.exceptions.OutOfMemoryError("OOM"), True),
        (redis.ResponseError("MISCONF Errors writing to the AOF file"), True),
        (redis.ResponseError("BUSY Redis is busy running a script"), True),
        (redis.RedisError("evaluation update of X lost 100 races in a row"), True),
        (redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"), False),
        (redis.ResponseError("ERR user_script:12: attempt to compare nil with number"), False),
        (redis.DataError("Invalid input of type: 'NoneType'"), False),
    ],
)
def test_which_redis_errors_are_unavailability(exc: redis.RedisError, unavailable: bool) -> None:
    from gateway.api.app import _unavailable

    assert _unavailable(exc) is unavailable


def _set_nx(args: Sequence[Any]) -> bool:
    """A SET ... NX: the idempotency claim."""
    return str(args[0]).upper() == "SET" and "nx" in [str(a).lower() for a in args]


def test_an_idempotency_claim_whose_reply_was_lost_is_still_ours(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """The resent SET NX finds the marker the first one wrote, ours: the request must go on,
    not answer 409 "still being processed" and keep the key claimed for 5 minutes."""
    flaky, lost = client_losing_one_reply(redis_server.socket_path, _set_nx)
    try:
        store = IdempotencyStore(flaky, namespace="gw", ttl_seconds=3600)
        claim = store.begin("prov", "k-lost", "fp")
    finally:
        flaky.close()
    assert lost.fired == 1
    assert isinstance(claim, Claim)
