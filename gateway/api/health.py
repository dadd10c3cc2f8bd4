"""Liveness, readiness and Prometheus metrics (no authentication; no personal data)."""

from __future__ import annotations

from typing import Annotated, Any

import redis
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gateway.api.console.history import History
from gateway.api.deps import get_service
from gateway.audit.metrics import AuditCollector
from gateway.service import GatewayService

__all__ = ["metrics_registry", "router"]

router = APIRouter(tags=["health"])
Gateway = Annotated[GatewayService, Depends(get_service)]


def metrics_registry(service: GatewayService) -> CollectorRegistry:
    """A registry of this app only (never the process-global one) holding the gateway's metrics.

    The collector reads cluster-wide counters from Redis, so every replica reports the same.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(service.collector)
    registry.register(AuditCollector(service.audit))
    return registry


@router.get("/health/live")
async def live() -> dict[str, str]:
    """200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "a check failed"}})
def ready(gateway: Gateway) -> Response:
    """200 when Redis answers and at least one worker pool is alive; else 503 naming the check.

    ``peers`` gives each peer's circuit (``closed``, ``open``, ``half_open``), consecutive
    failures and last success as this process saw them.
    """
    redis_ok = gateway.redis_ok()
    try:
        workers = gateway.live_workers() if redis_ok else 0
    except redis.RedisError:
        workers = 0
    checks: dict[str, Any] = {
        "redis": "ok" if redis_ok else "failing",
        "workers": "ok" if workers > 0 else "none alive",
        # Without its audit store the gateway refuses new work (X-Road's message-log rule).
        "audit": gateway.audit_failure() or "ok",
    }
    failed = [name for name, state in checks.items() if state != "ok"]
    body = {
        "status": "ok" if not failed else "unavailable",
        "checks": checks,
        "live_workers": workers,
        "failed": failed,
        # A peer that is down does not make the gateway unready (it still accepts and keeps
        # work); its breaker, seen from this process, says how delivery to it stands.
        "peers": gateway.peer_health(),
    }
    return JSONResponse(body, status_code=503 if failed else 200)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of the gateway's metrics."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    # Scrapes also feed the console's own few hours of history (at most one sample a minute).
    History(request.app.state.service.outbox).sample()
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
