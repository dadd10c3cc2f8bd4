"""Simulators on loopback: the registry's sandbox serves each with its ledger."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from gateway.connectors.dvcqg import DvcqgConnector
from gateway.connectors.webhook_signing import signed_headers
from gateway.errors import TransientPeerError
from gateway.sandbox import (
    Faults,
    Sandbox,
    SandboxOptions,
    SandboxPortal,
    SimulatorServer,
    WebhookReceiver,
)
from gateway.testing.records import AGENCY, national_dossier

pytestmark = pytest.mark.network


def test_sandbox_serves_every_simulator_and_prints_a_config_snippet() -> None:
    """A connector built from the snippet's values delivers; ledgers are served over HTTP."""
    with Sandbox(ports={"portal": 0, "webhooks": 0}) as sandbox:
        snippet = sandbox.snippet()
        assert snippet.startswith('[dvcqg]\nbase_url = "http://127.0.0.1:')
        assert '\n\n[[clients]]\nid = "demo"\n' in snippet
        assert f'webhook_url = "{sandbox.url("webhooks")}/hooks/demo"' in snippet
        portal = sandbox.simulators["portal"]
        assert isinstance(portal, SandboxPortal)
        with DvcqgConnector(portal.connector_config(sandbox.url("portal"))) as connector:
            record = national_dossier().model_dump(mode="json", by_alias=True, exclude_none=True)
            connector.push("DongBoHoSoMC", AGENCY, [record])
        ledger = httpx.get(sandbox.ledger_urls()["portal"]).json()
        assert list(ledger["dossiers"]) == [record["MaHoSo"]]
        receiver = sandbox.simulators["webhooks"]
        assert isinstance(receiver, WebhookReceiver)
        assert receiver.ledger()["clients"] == ["demo"]
        body = orjson.dumps({"type": "delivery.delivered", "data": {"delivery_id": "d"}})
        headers = signed_headers(receiver.secrets("demo"), "m1", int(time.time()), body)
        assert (
            httpx.post(
                sandbox.url("webhooks") + "/hooks/demo", content=body, headers=headers
            ).status_code
            == 200
        )
        assert httpx.get(sandbox.ledger_urls()["webhooks"]).json()["deliveries"] == {"m1": 1}
        httpx.post(sandbox.url("webhooks") + "/_sandbox/reset")
        assert receiver.ledger()["events"] == []


def test_sandbox_refuses_a_public_host_and_unknown_names() -> None:
    """The sandbox has no authentication: loopback only."""
    with pytest.raises(ValueError, match="loopback"):
        Sandbox(host="0.0.0.0")  # noqa: S104 - the refusal under test
    with pytest.raises(ValueError, match="no simulator named"):
        Sandbox(ports={"ministry": 1})


def test_a_held_answer_outlasts_the_read_timeout_over_real_http() -> None:
    """Applied-then-timeout on a socket: the connector times out (ambiguous); the call applied."""
    portal = SandboxPortal("strict", faults=Faults(timeout_rate=1.0))
    with SimulatorServer(portal, hold_seconds=1.0) as server:
        config = portal.connector_config(server.url, read_timeout=0.2)
        with DvcqgConnector(config) as connector:
            record = national_dossier().model_dump(mode="json", by_alias=True, exclude_none=True)
            with pytest.raises(TransientPeerError) as caught:
                connector.push("DongBoHoSoMC", AGENCY, [record])
    assert caught.value.ambiguous
    assert portal.state(record["MaHoSo"]) is not None


def test_a_dropped_answer_closes_the_connection_over_real_http() -> None:
    """Applied-then-drop on a socket: the connector sees a closed connection."""
    portal = SandboxPortal("strict", faults=Faults(drop_rate=1.0))
    options = SandboxOptions()
    assert options.profile == "strict"
    with (
        SimulatorServer(portal) as server,
        DvcqgConnector(portal.connector_config(server.url)) as c,
    ):
        record = national_dossier().model_dump(mode="json", by_alias=True, exclude_none=True)
        with pytest.raises(TransientPeerError) as caught:
            c.push("DongBoHoSoMC", AGENCY, [record])
    assert caught.value.ambiguous
    assert portal.outcomes["drop"] == 1
