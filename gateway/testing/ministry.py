"""A gateway routing a procedure to the sandbox LLTP ministry, in-process, for tests and demos.

Everything external is a sandbox simulator behind an in-process transport: the strict DVCQG
portal, the LLTP ministry behind its LGSP token endpoint, and the province's webhook receiver.
One settable clock drives the gateway, the ministry's case clock and the receiver, so tests move
time instead of sleeping, and :meth:`MinistryRig.settle` drives every queue and the tracker to
completion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis
from pydantic import SecretStr

from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.connectors.ministry.settings import MinistrySettings
from gateway.pipeline.engine import EngineSettings
from gateway.pipeline.retry import RetryPolicy
from gateway.sandbox.base import SimulatorTransport
from gateway.sandbox.faults import Faults
from gateway.sandbox.lltp import SAMPLE_PROCEDURE, LltpFaults, LltpSimulator
from gateway.sandbox.portal import SandboxPortal
from gateway.sandbox.webhooks import WebhookReceiver
from gateway.service import GatewayService
from gateway.testing.clients import province_client
from gateway.testing.records import AGENCY, Clock, national_dossier

__all__ = [
    "CALLBACK_SECRET",
    "LLTP_PROCEDURE",
    "MinistryRig",
    "build_ministry_rig",
    "deliver_all",
    "lltp_forms",
    "waiting",
]

LLTP_PROCEDURE = SAMPLE_PROCEDURE
"""The sample procedure the rig routes to LLTP (a judicial record certificate)."""
CALLBACK_SECRET = "lltp-callback-secret"  # noqa: S105 - the sandbox's test secret
_START = 1_764_561_600.0  # 2025-12-01 04:00 UTC, 11:00 in Vietnam


def lltp_forms(identify_no: str = "001090012345", **declaration: Any) -> str:
    """``ThongTinKhac`` carrying the LLTP forms of a dossier (as a province sends them)."""
    form = {
        "genderId": 1,
        "birthDateStr": "05/1990",
        "idTypeId": 3,
        "identifyNo": identify_no,
        "declareTypeId": 3846,
        "objectRequestId": 72,
        "purpose": "Bổ sung hồ sơ xin việc",
        **declaration,
    }
    return orjson.dumps(
        {"lltp": {"declarationWSForm": form, "residenceWSForm": [{"fromDateStr": "1990"}]}}
    ).decode()


def waiting(gateway: GatewayService) -> bool:
    """True while some outbox queue has work (due now or waiting for a retry)."""
    depth = gateway.outbox.depth()
    return any(d["ready"] or d["in_flight"] for d in depth.values())


def deliver_all(gateway: GatewayService, clock: Clock, rounds: int = 50) -> None:
    """Drive every queue to completion, moving ``clock`` past any retry's backoff."""
    for _ in range(rounds):
        due = gateway.sweep()
        if not due:
            if not waiting(gateway):
                return
            clock.advance(30)
            continue
        for channel, partition in sorted(due):
            gateway.flush(channel, partition)


@dataclass
class MinistryRig:
    """The gateway and its simulated peers."""

    gateway: GatewayService
    lltp: LltpSimulator
    portal: SandboxPortal
    receiver: WebhookReceiver
    clock: Clock

    def dossier(self, no: str, *, procedure: str = LLTP_PROCEDURE, **extra: Any) -> bool:
        """The province sends a received dossier of ``procedure``; True when accepted."""
        extra.setdefault("ThongTinKhac", lltp_forms())
        extra.setdefault("ChuHoSo", "Nguyễn Văn A")
        rec = national_dossier(no, MaTTHC=procedure, TenTTHC="Cấp phiếu lý lịch tư pháp", **extra)
        [out] = self.gateway.accept(Service.DOSSIER, AGENCY, [rec], client="prov")
        return out.accepted

    def deliver(self, rounds: int = 50) -> None:
        """Drive every queue to completion, moving the clock past any retry's backoff."""
        deliver_all(self.gateway, self.clock, rounds)

    def waiting(self) -> bool:
        """True while some outbox queue has work (due now or waiting for a retry)."""
        return waiting(self.gateway)

    def track(self, *, force_feed: bool = True) -> Any:
        """One tracker round (polls due, feed, flow-back)."""
        assert self.gateway.ministry is not None  # noqa: S101 - the rig configures one
        return self.gateway.ministry.tick(force_feed=force_feed)

    def settle(self, rounds: int = 12, step: float = 61.0, *, feed: bool = True) -> None:
        """Deliver, then let the ministry's clock run and track until nothing moves
        (``feed=False``: the changed-cases feed is read only when it falls due)."""
        for _ in range(rounds):
            self.deliver()
            self.lltp.flush_callbacks()
            self.track(force_feed=feed)
            self.deliver()
            self.clock.advance(step)

    def events(self) -> list[dict[str, Any]]:
        """The ministry-status events the province's receiver got (repeats included)."""
        return [e for e in self.receiver.events if e["type"] == "ministry.status"]


def build_ministry_rig(
    redis_client: redis.Redis,
    *,
    namespace: str = "min",
    faults: Faults | None = None,
    lltp_faults: LltpFaults | None = None,
    dedupe: bool = True,
    progress: bool = True,
    callbacks: bool = False,
    poll_seconds: float = 60.0,
    feed_seconds: float = 30.0,
    send: Callable[[bytes], int] | None = None,
    portal_faults: Faults | None = None,
    webhook_faults: Faults | None = None,
) -> MinistryRig:
    """A gateway whose procedure :data:`LLTP_PROCEDURE` goes to the sandbox LLTP ministry.

    ``callbacks`` has the ministry push each change to the gateway (straight into
    :meth:`MinistryService.callback`, unless ``send`` is given).
    """
    clock = Clock(start=_START)
    receiver = WebhookReceiver(clock=clock, faults=webhook_faults)
    [secret] = receiver.add_client("prov")
    portal = SandboxPortal("strict", faults=portal_faults)
    lltp = LltpSimulator(
        clock=clock,
        step_seconds=60.0,
        dedupe=dedupe,
        faults=faults,
        lltp_faults=lltp_faults,
        callback_url="http://gateway.test/v1/ministries/lltp/callback" if callbacks else None,
    )
    settings = Settings(
        namespace=namespace,
        clients=(province_client(secret, username="prov", password=SecretStr("prov-pass")),),
        retry=RetryPolicy(initial=1.0, cap=20.0, max_attempts=40),
        engine=EngineSettings(lease_seconds=300.0),
        ministry=MinistrySettings.model_validate(
            {
                "routes": [
                    {
                        "name": "lltp",
                        "procedures": [LLTP_PROCEDURE],
                        "system": "lltp",
                        "profile": "lltp",
                        "progress": progress,
                        "options": {"office": "STP-H22"},
                    }
                ]
            }
        ),
        # Breakers count real seconds; with a settable clock they would stay open for good.
        peers={
            "dvcqg": {"breaker": {"failure_threshold": 1000}},
            "webhook": {"breaker": {"failure_threshold": 1000}},
            "lltp": {
                "base_url": "http://lgsp.test/apiLyLichTuPhap/",
                "token_url": "http://lgsp.test/token",
                "client_id": lltp.client_id,
                "client_secret": lltp.client_secret,
                "poll_seconds": poll_seconds,
                "feed_seconds": feed_seconds,
                "callback_secret": CALLBACK_SECRET,
                "breaker": {"failure_threshold": 1000},
            },
        },
    )
    gateway = GatewayService(
        settings,
        redis_client,
        DvcqgConnector(portal.connector_config("http://portal.test"), transport=portal.transport()),
        clock=clock,
        webhook_transport=receiver.transport(),
        ministry_transports={"lltp": SimulatorTransport(lltp)},
    )
    if callbacks:
        ministry = gateway.ministry
        assert ministry is not None  # noqa: S101 - configured just above

        def push(body: bytes) -> int:
            ministry.callback("lltp", {}, body)
            return 200

        lltp.send = send or push
    return MinistryRig(gateway, lltp, portal, receiver, clock)
