"""Health, readiness, metrics, OpenAPI and the error shape of unknown routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.service import GatewayService

PROV = {"Authorization": "Bearer prov-key"}


def test_live_is_200(api: Any) -> None:
    """Liveness answers 200 whenever the app serves."""
    assert api.get("/health/live").status_code == 200


def test_ready_503_without_workers(api: Any) -> None:
    """Without a live worker pool the gateway is not ready, and says which check failed."""
    answer = api.get("/health/ready")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["workers"]


def test_ready_200_with_a_worker_heartbeat(api: Any, service: GatewayService) -> None:
    """A fresh worker heartbeat and a reachable Redis make the gateway ready."""
    service.client.set("gw:workers:w1", b"1", px=10_000)
    answer = api.get("/health/ready")
    assert answer.status_code == 200
    assert answer.json()["live_workers"] == 1


def test_ready_and_metrics_show_an_open_breaker(api: Any, service: GatewayService) -> None:
    """A peer whose breaker opened is named in /health/ready and in the breaker metric; the
    gateway itself stays ready (it still accepts and keeps work)."""
    service.client.set("gw:workers:w1", b"1", px=10_000)
    breaker = service.breakers["dvcqg"]
    for _ in range(breaker.config.failure_threshold):
        breaker.record_failure()
    answer = api.get("/health/ready")
    assert answer.status_code == 200
    peer = answer.json()["peers"]["dvcqg"]
    assert peer["circuit"] == "open"
    assert peer["consecutive_failures"] == breaker.config.failure_threshold
    assert peer["channels"] == [
        "dvcqg.DongBoHoSoMC",
        "dvcqg.CapNhatTienDoHoSoMC",
        "dvcqg.DongBoDanhGia",
    ]
    assert 'gateway_peer_breaker_state{peer="dvcqg"} 2.0' in api.get("/metrics").text


def test_metrics_text_has_gateway_counters(
    api: Any, make_provincial: Callable[..., dict[str, Any]]
) -> None:
    """/metrics serves Prometheus text with the gateway's counters and no personal data."""
    record = make_provincial()
    api.post("/v1/dossiers", json=record, headers={**PROV, "Idempotency-Key": "m"})
    answer = api.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "gateway_accepted_records" in answer.text
    assert record["applicant"]["paper_number"] not in answer.text
    assert record["dossier_no"] not in answer.text


def test_two_apps_have_their_own_registries(service: GatewayService) -> None:
    """Building two apps in one process does not clash on metric registration."""
    from gateway.api import create_app

    assert create_app(service) is not create_app(service)


def test_openapi_documents_every_endpoint(api: Any) -> None:
    """/openapi.json lists the endpoints and resolves the hand-written request bodies."""
    doc = api.get("/openapi.json").json()
    for path in (
        "/dvcqg/auth",
        "/dvcqg/integration",
        "/v1/dossiers",
        "/v1/dossiers:batch",
        "/v1/steps",
        "/v1/steps:batch",
        "/v1/deliveries/{delivery_id}",
        "/v1/dead-letters",
        "/v1/dead-letters:replay",
        "/health/ready",
    ):
        assert path in doc["paths"], path
    schemas = doc["components"]["schemas"]
    assert "Applicant" in schemas
    assert "$defs" not in repr(doc["paths"])
    assert api.get("/docs").status_code == 200


def test_unknown_route_is_404_problem(api: Any) -> None:
    """Routing errors use the problem shape too."""
    answer = api.get("/nowhere")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
