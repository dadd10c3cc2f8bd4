"""The sandbox's population database: its snippet lets the demo client verify, and it takes
the sandbox's faults and ``--down``."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import redis

from gateway.api import create_app
from gateway.config import load_settings
from gateway.connectors.dvcqg import DvcqgConnector
from gateway.identity import IdentityService
from gateway.sandbox import Sandbox
from gateway.sandbox.faults import Faults
from gateway.sandbox.population import PopulationPeer
from gateway.sandbox.registry import SandboxOptions
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from tests.api.conftest import ApiClient

AN = {"id_number": "001090012345", "full_name": "Nguyễn Văn An", "birth_date": "1990-02-15"}
PORTS = {"portal": 0, "webhooks": 0, "population": 0, "paygov": 0, "vnpay": 0}
DEMO = {"Authorization": "Bearer demo-key-change-me"}


@contextmanager
def _gateway(redis_client: redis.Redis, options: SandboxOptions) -> Iterator[ApiClient]:
    """The gateway configured by the sandbox's printed snippet, as it is; the population
    simulator is reached in-process (its URL and credentials are the snippet's)."""
    with Sandbox(options, ports=PORTS) as box:
        config = tomllib.loads(box.snippet())
        peer = box.simulators["population"]
    assert isinstance(peer, PopulationPeer)
    settings = load_settings(**config)
    assert settings.identity is not None
    portal = FakePortal()
    service = GatewayService(
        settings,
        redis_client,
        DvcqgConnector(portal.connector_config("http://portal.test"), transport=portal.transport()),
    )
    try:
        app = create_app(service)
        app.state.identity = IdentityService.build(
            settings.identity,
            service.client,
            settings.namespace,
            transport=peer.simulator.transport(),
        )
        yield ApiClient(app)
    finally:
        service.close()


def _verify(api: ApiClient) -> httpx.Response:
    return api.post("/v1/identity:verify", json=AN, headers=DEMO)


@pytest.mark.network
def test_the_snippet_lets_the_demo_client_verify(redis_client: redis.Redis) -> None:
    """The snippet names the demo client in [identity.entitlements]: 200 match, not 403."""
    with _gateway(redis_client, SandboxOptions()) as api:
        answer = _verify(api)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "match"
    assert answer.json()["citizen"]["HoVaTen"]


@pytest.mark.network
def test_the_sandbox_faults_reach_the_population_database(redis_client: redis.Redis) -> None:
    """``--unavailable-rate 1`` makes every look-up a 503, as for the other simulators."""
    with _gateway(redis_client, SandboxOptions(faults=Faults(unavailable_rate=1.0))) as api:
        answer = _verify(api)
    assert answer.status_code == 503
    assert answer.json()["outcome"] == "unavailable"


@pytest.mark.network
def test_down_starts_the_population_database_down(redis_client: redis.Redis) -> None:
    """``--down population``: every call answers 503."""
    with _gateway(redis_client, SandboxOptions(down=frozenset({"population"}))) as api:
        answer = _verify(api)
    assert answer.status_code == 503
