"""The correlation id bound at intake reaches the portal call and the webhook event's call."""

from __future__ import annotations

import httpx
import redis

from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.observability import bind
from gateway.sandbox import WebhookReceiver
from gateway.service import GatewayService
from gateway.testing.clients import province_client
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import AGENCY, Clock, national_dossier


class Capture(httpx.BaseTransport):
    """Keeps each request's path and correlation header, then passes it on."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, request.headers.get("x-correlation-id")))
        return self.inner.handle_request(request)


def test_intake_id_reaches_portal_and_webhook(redis_client: redis.Redis) -> None:
    """Accepted under cid ``req-1``: the portal call and the webhook post both carry it."""
    clock = Clock()
    receiver = WebhookReceiver(clock=clock)
    secret = receiver.add_client("prov")[0]
    hooks = Capture(receiver.transport())
    portal = FakePortal()
    calls = Capture(portal.transport())
    client = province_client(secret)
    service = GatewayService(
        Settings(namespace="cid", clients=(client,)),
        redis_client,
        DvcqgConnector(portal.connector_config("http://portal.test"), transport=calls),
        clock=clock,
        webhook_transport=hooks,
    )
    try:
        with bind("req-1"):
            out = service.accept(
                Service.DOSSIER, AGENCY, [national_dossier(f"{AGENCY}-250101-0001")], client="prov"
            )
        assert out[0].accepted
        for _ in range(3):
            for channel, partition in sorted(service.sweep()):
                service.flush(channel, partition)
        assert ("/api/integration", "req-1") in calls.seen
        assert hooks.seen, "no webhook was sent"
        assert {cid for _, cid in hooks.seen} == {"req-1"}
    finally:
        service.close()
