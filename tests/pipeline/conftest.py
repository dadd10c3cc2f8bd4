"""Fixtures for the delivery pipeline: real Redis, the fake portal in-process, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from gateway.connectors.base import Connector
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.pipeline.engine import DeliveryEngine, EngineSettings
from gateway.pipeline.outbox import Outbox
from gateway.pipeline.retry import RetryPolicy
from gateway.testing.fake_portal import FakePortal
from gateway.testing.pipeline import accept_records, build_pipeline
from gateway.testing.records import AGENCY, Clock
from gateway.testing.stub import StubPeer


@dataclass
class Harness:
    """Outbox + engine + portal, with every trigger recorded instead of enqueued."""

    outbox: Outbox
    engine: DeliveryEngine
    portal: Any
    """The peer's far side: a :class:`FakePortal` or a :class:`StubPeer` (same inspection API)."""
    clock: Clock
    triggers: list[tuple[str, str, int | None]] = field(default_factory=list)

    def accept(self, service: Service, *records: Any) -> list[Any]:
        return accept_records(self.outbox, service, AGENCY, list(records), client="test")

    def drain(self, service: Service = Service.DOSSIER) -> int:
        return self.engine.flush(service, AGENCY)


@pytest.fixture
def clock() -> Clock:
    return Clock()


# Every test on ``harness`` runs twice: against the real DVCQG connector and the shipped fake
# portal (HTTP envelopes, logins, TraCuuHoSo), and against the stub peer, which has only the
# channel semantics. What passes on both is the core's doing, not the connector's.
PEERS = ("dvcqg", "stub")


@pytest.fixture(params=PEERS)
def peer_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def portal(peer_kind: str) -> Any:
    if peer_kind == "stub":
        spec = DvcqgConnector(FakePortal().connector_config("http://unused.test"))
        channels = spec.channels
        spec.close()
        return StubPeer(channels)
    return FakePortal()


@pytest.fixture
def harness(redis_client: redis.Redis, portal: Any, clock: Clock) -> Iterator[Harness]:
    connector: Connector
    if isinstance(portal, StubPeer):
        connector = portal
    else:
        connector = DvcqgConnector(
            portal.connector_config("http://portal.test"), transport=portal.transport()
        )
    triggers: list[tuple[str, str, int | None]] = []
    outbox, engine = build_pipeline(
        redis_client,
        connector,
        namespace="t",
        clock=clock,
        policy=RetryPolicy(initial=1, cap=60, budget=600, max_attempts=5),
        trigger=lambda s, a, d: triggers.append((s, a, d)),
        settings=EngineSettings(batch_size=10, lease_seconds=30),
        rng=lambda lo, hi: hi,  # deterministic: always the ceiling
    )
    yield Harness(outbox, engine, portal, clock, triggers)
    connector.close()
