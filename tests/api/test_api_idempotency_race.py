"""Idempotency-Key under real concurrency: identical requests racing on one key.

Each request runs on its own thread, released together by a barrier, with its own event loop and
httpx client over the same ASGI app (``ApiClient`` builds a fresh client per call), so the
requests meet in ``IdempotencyStore.begin`` on the shared Redis for real rather than through a
pre-set in-flight marker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

from gateway.connectors.dvcqg import Service
from gateway.pipeline.outbox import DeliveryState
from gateway.service import GatewayService

AGENCY = "000.00.01.H22"
RACERS = 8
PROV = {"Authorization": "Bearer prov-key"}
Make = Callable[..., dict[str, Any]]


def _headers(key: str) -> dict[str, str]:
    return {**PROV, "Idempotency-Key": key, "content-type": "application/json"}


def _race(api: Any, key: str, bodies: list[bytes]) -> list[httpx.Response]:
    """POST each body to /v1/dossiers with ``key``, all at once; answers in body order."""
    start = threading.Barrier(len(bodies))

    def post(body: bytes) -> httpx.Response:
        start.wait(timeout=10)
        answer: httpx.Response = api.post("/v1/dossiers", content=body, headers=_headers(key))
        return answer

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))


def _is_replay(answer: httpx.Response) -> bool:
    replayed: str | None = answer.headers.get("idempotent-replayed")
    return replayed == "true"


def _assert_in_flight(answer: httpx.Response) -> None:
    assert answer.json()["type"].endswith("idempotency-in-flight"), answer.text
    assert answer.headers["retry-after"] == "1"


def test_identical_requests_racing_on_one_key_create_one_delivery(
    api: Any, service: GatewayService, make_provincial: Make
) -> None:
    """Concurrent identical requests: one 202 creates, the rest are 409 in flight or replays."""
    body = orjson.dumps(make_provincial())
    answers = _race(api, "race-same", [body] * RACERS)

    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {202, 409}, [(a.status_code, a.text) for a in answers]
    created = [a for a in answers if a.status_code == 202 and not _is_replay(a)]
    assert len(created) == 1, statuses
    first = created[0]
    assert first.json()["duplicate"] is False
    for answer in answers:
        if answer.status_code == 409:
            _assert_in_flight(answer)
        elif answer is not first:
            assert _is_replay(answer)
            assert answer.content == first.content
            assert answer.headers["location"] == first.headers["location"]

    assert service.outbox.metrics().get("accepted|dvcqg.DongBoHoSoMC") == 1
    assert "duplicate|D" not in service.outbox.metrics()
    delivery_id = first.json()["delivery_id"]
    assert service.outbox.status(delivery_id).state is DeliveryState.QUEUED
    # Once the race is over the key is settled: a late retry replays the creating response.
    late = api.post("/v1/dossiers", content=body, headers=_headers("race-same"))
    assert (late.status_code, _is_replay(late)) == (202, True)
    assert late.content == first.content


def test_different_bodies_racing_on_one_key_accept_at_most_one(
    api: Any, service: GatewayService, make_provincial: Make
) -> None:
    """Concurrent requests reusing one key for different bodies: one 202, the rest 409 or 422."""
    numbers = [f"{AGENCY}-250310-{i:04d}" for i in range(1, RACERS + 1)]
    bodies = [orjson.dumps(make_provincial(no=n)) for n in numbers]
    answers = _race(api, "race-mixed", bodies)

    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {202, 409, 422}, [(a.status_code, a.text) for a in answers]
    winners = [i for i, a in enumerate(answers) if a.status_code == 202]
    assert len(winners) == 1, statuses
    [winner] = winners
    assert not _is_replay(answers[winner])
    for answer in answers:
        if answer.status_code == 422:
            assert answer.json()["type"].endswith("idempotency-key-reused"), answer.text
        elif answer.status_code == 409:
            _assert_in_flight(answer)

    assert service.outbox.metrics().get("accepted|dvcqg.DongBoHoSoMC") == 1
    delivery_id = answers[winner].json()["delivery_id"]
    assert service.outbox.status(delivery_id).subject == numbers[winner]
    assert service.outbox.status(delivery_id).channel == Service.DOSSIER.value
