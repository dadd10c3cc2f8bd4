"""Build an outbox and an engine around one connector, as :class:`GatewayService` does, for tests
and benchmarks that drive delivery by hand (no dramatiq, triggers recorded)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import redis

from gateway.connectors.base import Connector
from gateway.connectors.dvcqg import Service, entries
from gateway.pipeline.breaker import CircuitBreaker
from gateway.pipeline.channels import Channels
from gateway.pipeline.engine import DeliveryEngine, EngineSettings
from gateway.pipeline.outbox import Outbox
from gateway.pipeline.retry import RetryPolicy
from gateway.schemas.lifecycle import Lifecycle
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.service import Outcome, allowed_transitions, outcome

__all__ = ["accept_records", "build_pipeline"]


def build_pipeline(
    client: redis.Redis,
    connector: Connector,
    *,
    namespace: str,
    clock: Callable[[], float],
    policy: RetryPolicy,
    trigger: Callable[[str, str, int | None], None],
    settings: EngineSettings | None = None,
    lifecycle: Lifecycle | None = None,
    breaker: CircuitBreaker | None = None,
    rng: Callable[[float, float], float] = random.uniform,
) -> tuple[Outbox, DeliveryEngine]:
    """An outbox over ``connector``'s channels and the engine that delivers them."""
    allowed = allowed_transitions(lifecycle or Lifecycle())
    channels = Channels(connector.channels, allowed={s.value: allowed for s in Service})
    outbox = Outbox(client, channels, namespace=namespace, clock=clock)
    engine = DeliveryEngine(
        outbox=outbox,
        connector=connector,
        policy=policy,
        trigger=trigger,
        settings=settings or EngineSettings(),
        breaker=breaker,
        rng=rng,
    )
    return outbox, engine


def accept_records(
    outbox: Outbox,
    service: Service,
    agency: str,
    records: Sequence[DossierRecord] | Sequence[ProgressRecord],
    *,
    client: str,
    lifecycle: Lifecycle | None = None,
) -> list[Outcome]:
    """Accept DVCQG records as the intake does, answering the intake's outcomes."""
    accepted = outbox.accept(service.value, agency, entries(service, records), client=client)
    lc = lifecycle or Lifecycle()
    return [outcome(lc, records[a.index], a) for a in accepted]
