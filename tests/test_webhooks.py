"""The second peer: provincial systems are told of each of their records' fate by webhook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from pydantic import SecretStr

from gateway.config import ClientConfig, Settings, load_settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.connectors.webhook import EVENT_CHANNEL
from gateway.errors import ConfigurationError
from gateway.sandbox import WebhookReceiver
from gateway.service import GatewayService
from gateway.testing.clients import province_client
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import AGENCY, Clock, national_dossier
from tests._redis import key_names

D1 = f"{AGENCY}-250101-0001"
DVCQG = {"base_url": "http://p.test", "username": "u", "password": "p", "dstcode": "H22"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver(clock: Clock) -> WebhookReceiver:
    # The receiver checks webhook-timestamp against the same clock the gateway signs with.
    return WebhookReceiver(clock=clock)


@pytest.fixture
def portal() -> FakePortal:
    return FakePortal()


@pytest.fixture
def service(
    redis_client: redis.Redis, receiver: WebhookReceiver, portal: FakePortal, clock: Clock
) -> Iterator[GatewayService]:
    old, new = receiver.add_client("prov"), receiver.add_client("other")
    clients = (
        ClientConfig(
            id="prov",
            api_key="k1",
            agencies=frozenset({"*"}),
            webhook_url="http://hooks.test/hooks/prov",
            webhook_secrets=(SecretStr(old[0]),),
        ),
        # Rotating: a new secret first, the receiver's (old) one second; either verifies.
        ClientConfig(
            id="other",
            api_key="k2",
            agencies=frozenset({"*"}),
            webhook_url="http://hooks.test/hooks/other",
            webhook_secrets=(SecretStr("whsec_" + "QUJD" * 8), SecretStr(new[0])),
        ),
        ClientConfig(id="quiet", api_key="k3", agencies=frozenset({"*"})),
    )
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    svc = GatewayService(
        Settings(namespace="wh", clients=clients),
        redis_client,
        connector,
        clock=clock,
        webhook_transport=receiver.transport(),
    )
    yield svc
    svc.close()


def _deliver_all(service: GatewayService) -> None:
    for _ in range(5):
        for channel, partition in sorted(service.sweep()):
            service.flush(channel, partition)


def test_delivered_dead_and_replayed_records_are_each_told_once(
    service: GatewayService, receiver: WebhookReceiver, portal: FakePortal
) -> None:
    """One event per delivery, dead letter and replay, signed, to the record's own client."""
    [ok] = service.accept(Service.DOSSIER, AGENCY, [national_dossier(D1)], client="prov")
    portal.reject(f"{AGENCY}-250101-0002")
    [bad] = service.accept(
        Service.DOSSIER, AGENCY, [national_dossier(f"{AGENCY}-250101-0002")], client="other"
    )
    service.accept(
        Service.DOSSIER, AGENCY, [national_dossier(f"{AGENCY}-250101-0003")], client="quiet"
    )
    _deliver_all(service)
    portal.clear_faults()
    portal.reset()
    assert service.deadletters.replay(bad.delivery_id or "", actor="ops").outcome == "queued"
    _deliver_all(service)
    events = receiver.events
    seen = sorted((e["client"], e["type"], e["data"]["delivery_id"]) for e in events)
    assert seen == sorted(
        [
            ("prov", "delivery.delivered", ok.delivery_id),
            ("other", "delivery.dead_lettered", bad.delivery_id),
            ("other", "delivery.replayed", bad.delivery_id),
            ("other", "delivery.delivered", bad.delivery_id),
        ]
    )
    assert receiver.bad_signatures == 0
    assert len({e["id"] for e in events}) == 4
    first = next(e for e in events if e["type"] == "delivery.delivered" and e["client"] == "prov")
    assert first["data"]["channel"] == Service.DOSSIER.value
    assert first["data"]["subject"] == D1
    assert first["data"]["partition"] == AGENCY


def test_a_receiver_that_is_down_is_retried_with_the_same_webhook_id(
    service: GatewayService, receiver: WebhookReceiver, portal: FakePortal, clock: Clock
) -> None:
    """While the receiver answers 503, DVCQG delivery goes on; the event waits, then arrives
    once, with the id it had on every attempt."""
    receiver.set_down(True)
    [ok] = service.accept(Service.DOSSIER, AGENCY, [national_dossier(D1)], client="prov")
    _deliver_all(service)
    assert service.outbox.status(ok.delivery_id or "").state.value == "delivered"
    assert receiver.events == []
    waiting = service.outbox.depth()[EVENT_CHANNEL]
    assert waiting["ready"] == 1
    receiver.set_down(False)
    clock.advance(3600)
    _deliver_all(service)
    [event] = receiver.events
    assert receiver.deliveries(event["id"]) == 1
    assert receiver.outcomes["down"] >= 1


def test_webhook_url_without_a_secret_is_a_configuration_error() -> None:
    """A webhook that could not be signed is refused when the configuration is read."""
    with pytest.raises(ConfigurationError, match="webhook_secrets"):
        load_settings(clients=[{"id": "p", "webhook_url": "http://h.test/x"}])


def test_peer_sections_are_validated_and_unknown_peers_refused() -> None:
    """[peers.<name>] holds the connector's fields plus retry, breaker and concurrency."""
    s = load_settings(
        peers={
            "dvcqg": {
                "base_url": "http://portal.test",
                "username": "u",
                "password": "p",
                "dstcode": "H22",
                "batch_size": 100,
                "retry": {"max_attempts": 3},
                "breaker": {"failure_threshold": 7},
                "concurrency": 2,
            },
            "webhook": {"read_timeout": 2.5},
        }
    )
    config, delivery = s.peer_config("dvcqg")
    assert config is not None
    assert config.batch_size == 100
    assert delivery.retry is not None
    assert delivery.retry.max_attempts == 3
    assert (delivery.breaker.failure_threshold, delivery.concurrency) == (7, 2)
    with pytest.raises(ConfigurationError, match="no such peer"):
        load_settings(peers={"nope": {}})
    with pytest.raises(ConfigurationError, match=r"peers\.dvcqg\.breaker\.oops"):
        load_settings(peers={"dvcqg": {**DVCQG, "breaker": {"oops": 1}}})


def test_the_example_configs_commented_peer_sections_are_valid() -> None:
    """Uncommented, the example's [peers.*] block is a configuration the gateway accepts."""
    import re
    import tomllib
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "gateway.example.toml").read_text("utf-8")
    block = text.split("# [peers.dvcqg]\n", 1)[1].split("\n\n", 1)[0]
    # Uncomment the TOML lines (a table header or "key = value"), not the prose between them.
    toml_line = re.compile(r"^# (\[[a-z.]+\]|[a-z_]+ = .*)$")
    lines = ["[peers.dvcqg]"]
    lines += [m.group(1) for line in block.splitlines() if (m := toml_line.match(line))]
    config = tomllib.loads("\n".join(lines))
    settings = load_settings(**config)
    dvcqg, delivery = settings.peer_config("dvcqg")
    assert dvcqg is not None
    assert dvcqg.lookup_param == "mahoso"
    assert delivery.breaker.reset_seconds == 30
    webhook, webhook_delivery = settings.peer_config("webhook")
    assert webhook is not None
    assert webhook_delivery.concurrency == 2


def test_batched_events_survive_a_failure_mid_batch(
    redis_client: redis.Redis, receiver: WebhookReceiver, portal: FakePortal, clock: Clock
) -> None:
    """With ``batch_size`` above 1, one send posts several events; when a post fails mid-batch
    the whole batch goes again, the events already posted included, under their own
    ``webhook-id``: the receiver holds each event once, and saw the first one twice."""
    import httpx

    secret = receiver.add_client("prov")[0]
    inner = receiver.transport()
    posts: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        posts.append(request.headers["webhook-id"])
        if len(posts) == 2:
            return httpx.Response(503)
        return inner.handle_request(request)

    client = province_client(secret)
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    svc = GatewayService(
        Settings(namespace="whb", clients=(client,), peers={"webhook": {"batch_size": 10}}),
        redis_client,
        connector,
        clock=clock,
        webhook_transport=httpx.MockTransport(flaky),
    )
    try:
        nos = [f"{AGENCY}-250101-000{i}" for i in range(1, 4)]
        svc.accept(Service.DOSSIER, AGENCY, [national_dossier(no) for no in nos], client="prov")
        svc.flush(Service.DOSSIER.value, AGENCY)
        assert svc.flush(EVENT_CHANNEL, "prov") == 0  # the second post failed: none settled
        assert len(posts) == 2
        clock.advance(3600)
        assert svc.flush(EVENT_CHANNEL, "prov") == 3  # one claim, three posts
        assert len(posts) == 5
        assert len({e["id"] for e in receiver.events}) == 3
        assert receiver.deliveries(posts[0]) == 2
        assert posts[2:] == [posts[0], posts[1], *posts[4:]]
        assert svc.outbox.metrics()[f"delivered|{EVENT_CHANNEL}"] == 3
    finally:
        svc.close()


def test_a_batch_must_fit_in_the_lease() -> None:
    """``batch_size`` posts, every timeout spent, must end before the lease lapses."""
    from gateway.connectors.webhook import WebhookConfig, WebhookConnector

    one = WebhookConnector(WebhookConfig())
    ten = WebhookConnector(WebhookConfig(batch_size=10))
    try:
        assert ten.max_call_seconds == 10 * one.max_call_seconds
        assert ten.channels[0].max_batch == 10
    finally:
        one.close()
        ten.close()


def test_a_delivered_notification_leaves_no_subject_keys(
    service: GatewayService, receiver: WebhookReceiver, redis_client: redis.Redis
) -> None:
    """An event's own subject keys (state, fingerprints, delivered set) go with its delivery;
    its hash stays, delivered. An event that could not be delivered keeps them (it is retried)."""
    receiver.set_down(True)
    [ok] = service.accept(Service.DOSSIER, AGENCY, [national_dossier(D1)], client="prov")
    _deliver_all(service)
    [key] = key_names(redis_client, f"wh:sub:{EVENT_CHANNEL}:*")
    event = key.rsplit(":", 1)[1]
    assert redis_client.exists(f"wh:fps:{EVENT_CHANNEL}:{event}") == 1
    receiver.set_down(False)
    service.clock.advance(3600)  # type: ignore[attr-defined]  # the fixture's Clock
    _deliver_all(service)
    assert [e["id"] for e in receiver.events] == [event]
    for kind in ("sub", "fps", "done", "items"):
        assert redis_client.exists(f"wh:{kind}:{EVENT_CHANNEL}:{event}") == 0, kind
    assert service.outbox.status(event.removeprefix("msg_")).state.value == "delivered"
    assert service.outbox.status(ok.delivery_id or "").state.value == "delivered"
