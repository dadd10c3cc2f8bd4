"""A Redis that hangs: the gateway's calls time out, and the API answers 503, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.api import create_app
from gateway.audit import AuditSettings
from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector
from gateway.runtime import RedisServer
from gateway.runtime.store import open_redis
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal

from .conftest import ApiClient, provincial_dossier

PROV = {"Authorization": "Bearer prov-key", "Idempotency-Key": "k-hung"}


@contextmanager
def writes_hang(admin: redis.Redis) -> Iterator[None]:
    """Pause the Redis for writes (scripts included), as one whose disk hangs does, and let it
    go again at the end (UNPAUSE is not a write, so it answers at once)."""
    admin.client_pause(60_000, all=False)
    try:
        yield
    finally:
        admin.client_unpause()


def test_a_hung_store_is_a_503_problem(
    settings: Settings, redis_server: RedisServer, redis_client: redis.Redis, portal: FakePortal
) -> None:
    # The gateway's own bound, shortened, and no resends, so the test takes a fraction of a second.
    client = redis.Redis(
        unix_socket_path=str(redis_server.socket_path),
        socket_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    # With the audit chain on, its gate answers first (also a 503, tested with the chain);
    # off, the request reaches the outbox's script.
    service = GatewayService(
        settings.model_copy(update={"audit": AuditSettings(enabled=False)}), client, connector
    )
    try:
        api = ApiClient(create_app(service))
        with writes_hang(redis_client):
            answer = api.post("/v1/dossiers", json=provincial_dossier(), headers=PROV)
        assert service.client.ping()
    finally:
        service.close()
        client.close()
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["title"] == "Service unavailable"
    assert "store is unavailable" in answer.json()["detail"]


def test_the_settings_bound_every_call(tmp_path: Path, redis_server: RedisServer) -> None:
    """``redis_timeout_seconds`` reaches the client the gateway opens on an external Redis."""
    assert Settings().redis_timeout_seconds == 5.0
    settings = Settings(data_dir=tmp_path, redis_url=redis_server.url, redis_timeout_seconds=0.25)
    service = GatewayService.open(settings)
    try:
        assert service.client.connection_pool.connection_kwargs["socket_timeout"] == 0.25
    finally:
        service.close()


def test_the_embedded_store_is_bounded_too(tmp_path: Path) -> None:
    handle = open_redis(None, tmp_path, timeout=0.25)
    try:
        assert handle.kind == "embedded"
        assert handle.client.connection_pool.connection_kwargs["socket_timeout"] == 0.25
    finally:
        handle.close()
