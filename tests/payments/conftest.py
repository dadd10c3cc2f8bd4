"""A gateway with payments against both sandbox providers, in-process, on the real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import redis
from pydantic import SecretStr

from gateway.api import create_app
from gateway.config import ClientConfig, Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.connectors.paygov import PayGovConfig
from gateway.connectors.vnpay import VnpayConfig
from gateway.payment_settings import PaymentRoute, PaymentSettings
from gateway.payments import PaymentService
from gateway.pipeline.broker import WorkerPool
from gateway.sandbox import WebhookReceiver
from gateway.sandbox.base import SimulatorTransport
from gateway.sandbox.callbacks import CallbackFaults
from gateway.sandbox.paygov import PayGovSimulator
from gateway.sandbox.vnpay import VnpaySimulator
from gateway.schemas.payments import FeeLine, PaymentRequest
from gateway.service import GatewayService
from gateway.testing.asgi import asgi_call as call
from gateway.testing.clients import province_client
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import AGENCY, Clock, national_dossier

VNPAY_AGENCY = "000.00.02.H22"
PAYGOV_SECRET = "pg-secret"
VNPAY_SECRET = "vn-secret"


def settings(**overrides: Any) -> PaymentSettings:
    """Payments of AGENCY through PayGov, of VNPAY_AGENCY through VNPay."""
    base: dict[str, Any] = {
        "paygov": PayGovConfig(
            base_url="http://paygov.test",
            partner_code="P1",
            secret=SecretStr(PAYGOV_SECRET),
        ),
        "vnpay": VnpayConfig(
            pay_url="http://vnpay.test/paymentv2/vpcpay.html",
            api_url="http://vnpay.test/merchant_webapi/api/transaction",
            tmn_code="TMN1",
            secret=SecretStr(VNPAY_SECRET),
            return_url="http://gw.test/payments/vnpay/return",
        ),
        "routes": (
            PaymentRoute(provider="vnpay", agency=VNPAY_AGENCY),
            PaymentRoute(provider="paygov"),
        ),
        "stale_after_seconds": 600,
    }
    return PaymentSettings(**{**base, **overrides})


def request(dossier_no: str, agency: str = AGENCY, amount: int = 150_000) -> PaymentRequest:
    """A payment of two fees adding up to ``amount``."""
    return PaymentRequest(
        dossier_no=dossier_no,
        agency=agency,
        procedure="1.001612",
        fees=(
            FeeLine(kind="1", code="LP1", name="Lệ phí", amount=amount - 50_000),
            FeeLine(kind="2", code="P1", name="Phí", amount=50_000),
        ),
        payer_name="Nguyễn Văn A",
        description=f"Thanh toan ho so {dossier_no}",
    )


class Recorder(httpx.BaseTransport):
    """Passes calls to the portal, keeping every dossier record sent (at the HTTP boundary)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if b"DongBoHoSoMC" in body:
            self.sent.extend(orjson.loads(body).get("data", []))
        return self.inner.handle_request(request)


@dataclass
class Rig:
    gateway: GatewayService
    payments: PaymentService
    paygov: PayGovSimulator
    vnpay: VnpaySimulator
    portal: FakePortal
    receiver: WebhookReceiver
    clock: Clock
    recorder: Recorder

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Every dossier record the portal was sent, in order."""
        return self.recorder.sent

    def dossier(self, no: str, agency: str = AGENCY, **extra: Any) -> None:
        """The province sends a dossier state."""
        rec = national_dossier(no, **extra)
        [out] = self.gateway.accept(Service.DOSSIER, agency, [rec], client="prov")
        assert out.accepted

    def sweeper(self) -> WorkerPool:
        """The workers' pool of the gateway, with no worker threads: tests call tick()."""
        return WorkerPool(
            self.gateway.broker,
            threads={},
            prefetch=1,
            sweep=self.gateway.sweep,
            sweep_interval=5.0,
            heartbeat=lambda _id, _ttl: None,
            periodic=self.gateway.periodic,
        )

    def deliver_all(self) -> None:
        """Drive every queue (national portal, webhooks) to completion."""
        for _ in range(6):
            for channel, partition in sorted(self.gateway.sweep()):
                self.gateway.flush(channel, partition)

    def pay_paygov(self, url: str) -> str:
        """The payer pays on the PayGov page; the reference."""
        ref = url.rsplit("/", 1)[1]
        assert self.paygov.act(ref, "pay")
        return ref

    def pay_vnpay(self, url: str) -> str:
        """The payer opens the VNPay URL and pays; the reference."""
        ref = self.vnpay.open_url(url)
        assert self.vnpay.act(ref, "pay")
        return ref


def build_rig(
    redis_client: redis.Redis,
    *,
    namespace: str = "pay",
    callback_faults: CallbackFaults | None = None,
    payment_settings: PaymentSettings | None = None,
) -> Rig:
    clock = Clock(start=1_764_561_600.0)  # 2025-12-01 04:00 UTC, 11:00 in Vietnam
    receiver = WebhookReceiver(clock=clock)
    [secret] = receiver.add_client("prov")
    portal = FakePortal()
    recorder = Recorder(portal.transport())
    gateway = GatewayService(
        Settings(
            namespace=namespace,
            clients=(
                province_client(secret),
                ClientConfig(id="ops", api_key="k2", operator=True, agencies=frozenset({"*"})),
            ),
            payments=payment_settings or settings(),
        ),
        redis_client,
        DvcqgConnector(portal.connector_config("http://portal.test"), transport=recorder),
        clock=clock,
        webhook_transport=receiver.transport(),
    )
    faults = callback_faults or CallbackFaults()
    paygov = PayGovSimulator(
        partner_code="P1",
        secret=PAYGOV_SECRET,
        base_url="http://paygov.test",
        callback_faults=faults,
        clock=clock,
    )
    vnpay = VnpaySimulator(
        tmn_code="TMN1",
        secret=VNPAY_SECRET,
        callback_faults=faults.model_copy(update={"seed": faults.seed + 1}),
    )
    assert gateway.settings.payments is not None
    payments = PaymentService.build(
        gateway.settings.payments,
        gateway,
        transports={"paygov": SimulatorTransport(paygov), "vnpay": SimulatorTransport(vnpay)},
    )
    paygov.callbacks.send = lambda body: str(payments.paygov_confirm(body)["MaLoi"])
    vnpay.callbacks.send = lambda params: payments.vnpay_ipn(params)["RspCode"]
    return Rig(gateway, payments, paygov, vnpay, portal, receiver, clock, recorder)


@pytest.fixture
def rig(redis_client: redis.Redis) -> Iterator[Rig]:
    r = build_rig(redis_client)
    yield r
    r.payments.close()
    r.gateway.close()


def app_of(rig: Rig) -> Any:
    """The gateway's HTTP app with the rig's payment service (simulated providers), and the
    simulators' callbacks sent through it."""
    app = create_app(rig.gateway)
    app.state.payments = rig.payments

    def confirm(body: dict[str, Any]) -> str:
        return str(call(app, "POST", "/payments/paygov/confirm", json=body).json()["MaLoi"])

    def ipn(params: dict[str, Any]) -> str:
        return str(call(app, "GET", "/payments/vnpay/ipn", params=params).json()["RspCode"])

    rig.paygov.callbacks.send = confirm
    rig.vnpay.callbacks.send = ipn
    return app
