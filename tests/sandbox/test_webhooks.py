"""The sandbox webhook receiver: verifies signatures, keeps every receipt, injects faults."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from gateway.connectors.webhook_signing import new_secret, signed_headers
from gateway.sandbox import Faults, WebhookReceiver


def event(delivery_id: str = "d1", kind: str = "delivery.delivered") -> bytes:
    data = {
        "delivery_id": delivery_id,
        "channel": "dvcqg.dossier",
        "subject": "X",
        "partition": "A",
    }
    return orjson.dumps({"type": kind, "timestamp": "2026-12-01T09:00:00Z", "data": data})


def post(
    receiver: WebhookReceiver, client: str, body: bytes, secrets: list[str], msg_id: str = "msg_1"
) -> httpx.Response:
    headers = signed_headers(secrets, msg_id, int(time.time()), body)
    with httpx.Client(transport=receiver.transport(), base_url="http://hooks.test") as http:
        return http.post(f"/hooks/{client}", content=body, headers=headers)


def test_a_signed_event_is_kept_and_a_redelivery_counted() -> None:
    """Both receipts of one webhook-id are in the ledger; its count is 2."""
    receiver = WebhookReceiver()
    secret = receiver.add_client("demo")[0]
    assert post(receiver, "demo", event(), [secret]).status_code == 200
    assert post(receiver, "demo", event(), [secret]).status_code == 200
    assert receiver.deliveries("msg_1") == 2
    ledger = receiver.ledger()
    assert [e["id"] for e in ledger["events"]] == ["msg_1", "msg_1"]
    assert ledger["events"][0]["data"]["delivery_id"] == "d1"
    assert ledger["events"][0]["type"] == "delivery.delivered"


def test_rotation_accepts_either_secret_and_refuses_a_stranger() -> None:
    """Two secrets per client during rotation; a wrong one is a counted 401."""
    old, new = new_secret(), new_secret()
    receiver = WebhookReceiver({"demo": [old, new]})
    assert post(receiver, "demo", event("a"), [old], "m1").status_code == 200
    assert post(receiver, "demo", event("b"), [new], "m2").status_code == 200
    assert post(receiver, "demo", event("c"), [new_secret()], "m3").status_code == 401
    assert receiver.bad_signatures == 1
    assert [e["data"]["delivery_id"] for e in receiver.events] == ["a", "b"]


def test_a_stale_timestamp_is_refused() -> None:
    """Outside the tolerance the signature does not matter."""
    receiver = WebhookReceiver(tolerance_seconds=300, clock=lambda: time.time() + 301)
    secret = receiver.add_client("demo")[0]
    assert post(receiver, "demo", event(), [secret]).status_code == 401


def test_unknown_client_and_non_events_are_refused() -> None:
    """Paths name registered clients; bodies must be gateway events."""
    receiver = WebhookReceiver()
    secret = receiver.add_client("demo")[0]
    assert post(receiver, "other", event(), [secret]).status_code == 404
    assert post(receiver, "demo", b'{"type":"x"}', [secret]).status_code == 400
    assert receiver.events == []


def test_down_answers_503_and_keeps_nothing() -> None:
    """A receiver that is down is a transient failure for the sender."""
    receiver = WebhookReceiver()
    secret = receiver.add_client("demo")[0]
    receiver.set_down()
    assert post(receiver, "demo", event(), [secret]).status_code == 503
    receiver.set_down(False)
    assert post(receiver, "demo", event(), [secret]).status_code == 200
    assert receiver.outcomes["down"] == 1
    assert len(receiver.events) == 1


def test_applied_then_drop_keeps_the_event() -> None:
    """The ambiguous fault: the receiver has it, the sender saw no answer."""
    receiver = WebhookReceiver(faults=Faults(drop_rate=1.0))
    secret = receiver.add_client("demo")[0]
    with pytest.raises(httpx.RemoteProtocolError):
        post(receiver, "demo", event(), [secret])
    assert receiver.deliveries("msg_1") == 1


def test_error_rate_answers_500_without_keeping() -> None:
    """A failing receiver keeps nothing."""
    receiver = WebhookReceiver(faults=Faults(error_rate=1.0))
    secret = receiver.add_client("demo")[0]
    assert post(receiver, "demo", event(), [secret]).status_code == 500
    assert receiver.events == []
