"""The audit trail at the API: exchanges, operator actions, the 503 gate, correlation ids."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from gateway.api import create_app
from gateway.audit import AuditSettings
from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from tests.api.conftest import AGENCY, DOSSIER_NO, ApiClient

PROV = {"Authorization": "Bearer prov-key"}
OPS = {"Authorization": "Bearer ops-key"}
Make = Callable[..., dict[str, Any]]


class Capture(httpx.BaseTransport):
    """Passes requests to ``inner`` and keeps each request's headers (what the peer saw)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, httpx.Headers]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, request.headers))
        return self.inner.handle_request(request)


@pytest.fixture
def capture(portal: FakePortal) -> Capture:
    """The portal's transport, recording request headers."""
    return Capture(portal.transport())


@pytest.fixture
def service(
    settings: Settings, redis_client: redis.Redis, portal: FakePortal, capture: Capture
) -> Iterator[GatewayService]:
    """A gateway delivering through ``capture`` to ``portal``."""
    connector = DvcqgConnector(portal.connector_config("http://portal.test"), transport=capture)
    gateway = GatewayService(settings, redis_client, connector)
    yield gateway
    gateway.close()


def _push(api: ApiClient, rec: dict[str, Any], key: str, cid: str | None = None) -> httpx.Response:
    headers = {**PROV, "Idempotency-Key": key}
    if cid is not None:
        headers["X-Correlation-ID"] = cid
    return api.post("/v1/dossiers", json=rec, headers=headers)


def test_exchange_is_chained_with_correlation_id(
    api: ApiClient, service: GatewayService, capture: Capture, make_provincial: Make
) -> None:
    """A delivery leaves an exchange entry with both body hashes, and the intake's correlation
    id reaches the portal's request headers and the entry."""
    answer = _push(api, make_provincial(), "k1", cid="case-4711")
    assert answer.status_code == 202, answer.text
    assert answer.headers["x-correlation-id"] == "case-4711"
    service.flush(Service.DOSSIER, AGENCY)
    # The login the connector makes first belongs to the same exchange and carries it too.
    assert {(path, h.get("x-correlation-id")) for path, h in capture.seen} == {
        ("/api/auth", "case-4711"),
        ("/api/integration", "case-4711"),
    }
    assert service.audit is not None
    exchanges = [e for e in service.audit.export(None, None) if e["kind"] == "exchange"]
    assert exchanges, "no exchange recorded"
    assert {e["cid"] for e in exchanges} == {"case-4711"}
    entry = next(e for e in exchanges if e["operation"] == "POST /api/integration")
    assert entry["peer"] == "dvcqg"
    assert entry["status"] == 200
    assert len(entry["request_sha256"]) == 64
    assert len(entry["response_sha256"]) == 64
    assert service.audit.verify().ok


def test_a_new_id_is_made_when_none_or_a_bad_one_is_given(
    api: ApiClient, make_provincial: Make
) -> None:
    """Without a usable X-Correlation-ID the gateway makes one; it never echoes a bad one."""
    answer = _push(api, make_provincial(), "k2", cid="bad id\twith spaces")
    cid = answer.headers["x-correlation-id"]
    assert cid != "bad id\twith spaces"
    assert len(cid) == 32


def test_operator_actions_are_chained_with_who_and_why(
    api: ApiClient, service: GatewayService, portal: FakePortal, make_provincial: Make
) -> None:
    """Replay and discard through the API append operator entries naming actor and reason, and
    a dead letter keeps the intake's correlation id."""
    ids = []
    for n, no in enumerate((DOSSIER_NO, f"{AGENCY}-250310-0008")):
        portal.reject(no)
        ids.append(_push(api, make_provincial(no=no), f"dl-{n}", cid=f"cid-{n}").json())
    service.flush(Service.DOSSIER, AGENCY)
    portal.clear_faults()
    letters = [i["delivery_id"] for i in ids]
    shown = api.get(f"/v1/dead-letters/{letters[0]}", headers=OPS).json()
    assert shown["cid"] == "cid-0"
    assert api.post(f"/v1/dead-letters/{letters[0]}/replay", headers=OPS).status_code == 200
    discard = api.post(
        f"/v1/dead-letters/{letters[1]}/discard", json={"reason": "sent twice"}, headers=OPS
    )
    assert discard.status_code == 200
    assert service.audit is not None
    ops = [e for e in service.audit.export(None, None) if e["kind"] == "operator"]
    assert [(e["action"], e["actor"], e["target"], e["reason"]) for e in ops] == [
        ("replay", "ops", letters[0], ""),
        ("discard", "ops", letters[1], "sent twice"),
    ]
    assert service.audit.verify().ok


def test_gate_refuses_new_work_when_the_audit_store_is_unavailable(
    redis_client: redis.Redis, settings: Settings, tmp_path: Path, make_provincial: Make
) -> None:
    """With an audit store that cannot be written, both intakes and identity answer 503 naming
    why, nothing is stored, and the metrics say so; reads stay open."""
    broken = settings.model_copy(
        update={"audit": AuditSettings(redis_url=f"unix://{tmp_path}/absent.sock")}
    )
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://p.test"), transport=portal.transport()
    )
    gateway = GatewayService(broken, redis_client, connector)
    try:
        api = ApiClient(create_app(gateway))
        native = _push(api, make_provincial(), "k3")
        assert native.status_code == 503
        assert native.headers["content-type"].startswith("application/problem+json")
        assert "audit store not writable" in native.json()["detail"]
        assert native.headers["retry-after"] == "5"
        dvcqg = api.post("/dvcqg/integration", json={"session": "x", "data": []})
        assert dvcqg.status_code == 503
        assert gateway.outbox.metrics() == {}
        assert api.get("/v1/dead-letters", headers=OPS).status_code == 200
        metrics = api.get("/metrics").text
        assert (
            'gateway_audit_writable{reason="audit store not writable (ConnectionError)"} 0.0'
            in metrics
        )
        ready = api.get("/health/ready").json()
        assert ready["checks"]["audit"].startswith("audit store not writable")
    finally:
        gateway.close()
