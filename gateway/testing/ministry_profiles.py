"""A gateway routing procedures to the sandbox hộ tịch, SOAP and REST ministries, in-process.

The counterpart of :mod:`gateway.testing.ministry` (the LLTP rig) for the other shipped
profiles: the strict DVCQG portal, the three sandbox ministries behind their token endpoints,
and the province's webhook receiver, all behind in-process transports and one settable clock,
so tests move time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import redis

# Importing the profile modules registers them (gateway.connectors.ministry.profile.PROFILES).
import gateway.connectors.ministry.hotich.profile
import gateway.connectors.ministry.rest.profile
import gateway.connectors.ministry.soap.profile  # noqa: F401 - imported for registration
from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.connectors.ministry.settings import MinistrySettings
from gateway.pipeline.engine import EngineSettings
from gateway.pipeline.retry import RetryPolicy
from gateway.sandbox.base import SimulatorTransport
from gateway.sandbox.callbacks import CallbackFaults
from gateway.sandbox.faults import Faults
from gateway.sandbox.hotich import HOTICH_BASE_PATH, HoTichSimulator
from gateway.sandbox.portal import SandboxPortal
from gateway.sandbox.rest_ministry import REST_BASE_PATH, RestMinistrySimulator
from gateway.sandbox.soap_ministry import SOAP_MINISTRY_PATH, SoapMinistrySimulator
from gateway.sandbox.webhooks import WebhookReceiver
from gateway.service import GatewayService
from gateway.testing.clients import province_client
from gateway.testing.ministry import deliver_all
from gateway.testing.records import AGENCY, Clock, national_dossier

__all__ = [
    "HOTICH_PROCEDURE",
    "PROCEDURES",
    "REST_CALLBACK_SECRET",
    "REST_PROCEDURE",
    "SOAP_PROCEDURE",
    "ProfilesRig",
    "build_profiles_rig",
]

HOTICH_PROCEDURE = "1.001193"
"""Đăng ký khai sinh (birth registration): routed to the hộ tịch ministry, register ``KS``."""
SOAP_PROCEDURE = "1.004227"
REST_PROCEDURE = "1.008001"
PROCEDURES: Mapping[str, str] = {
    "hotich": HOTICH_PROCEDURE,
    "soap_ministry": SOAP_PROCEDURE,
    "rest_ministry": REST_PROCEDURE,
}
"""System name → the sample procedure routed to it."""
REST_CALLBACK_SECRET = "rest-callback-secret"  # noqa: S105 - the sandbox's test secret
_START = 1_764_561_600.0  # 2025-12-01 04:00 UTC, 11:00 in Vietnam


@dataclass
class ProfilesRig:
    """The gateway and its simulated peers."""

    gateway: GatewayService
    hotich: HoTichSimulator
    soap: SoapMinistrySimulator
    rest: RestMinistrySimulator
    portal: SandboxPortal
    receiver: WebhookReceiver
    clock: Clock

    def dossier(self, no: str, system: str, **extra: Any) -> bool:
        """The province sends a received dossier routed to ``system``; True when accepted."""
        extra.setdefault("ChuHoSo", "Nguyễn Văn A")
        extra.setdefault(
            "ThongTinKhac", orjson.dumps({"hotich": {"tenTre": "Nguyễn Văn B"}}).decode()
        )
        rec = national_dossier(no, MaTTHC=PROCEDURES[system], **extra)
        [out] = self.gateway.accept(Service.DOSSIER, AGENCY, [rec], client="prov")
        return out.accepted

    def deliver(self, rounds: int = 50) -> None:
        """Drive every queue to completion, moving the clock past any retry's backoff."""
        deliver_all(self.gateway, self.clock, rounds)

    def track(self) -> Any:
        """One tracker round (polls due, feeds, flow-back)."""
        assert self.gateway.ministry is not None  # noqa: S101 - the rig configures one
        return self.gateway.ministry.tick(force_feed=True)

    def settle(self, rounds: int = 14, step: float = 25.0) -> None:
        """Deliver, then let the ministries' clock run and track until nothing moves."""
        for _ in range(rounds):
            self.deliver()
            self.rest.push_due()
            self.track()
            self.deliver()
            self.clock.advance(step)

    def events(self, system: str | None = None) -> list[dict[str, Any]]:
        """The ministry-status events the province's receiver got (repeats included)."""
        return [
            e
            for e in self.receiver.events
            if e["type"] == "ministry.status"
            and (system is None or e["data"].get("system") == system)
        ]


def build_profiles_rig(
    redis_client: redis.Redis,
    *,
    namespace: str = "minp",
    faults: Faults | None = None,
    callback_faults: CallbackFaults | None = None,
    rest_callbacks: bool = True,
    poll_seconds: float = 30.0,
) -> ProfilesRig:
    """A gateway with the three routes; ``faults`` apply to every sandbox ministry.

    Cases move a stage a minute (received, processing at 60 s, completed at 120 s); polling
    every ``poll_seconds`` (less than a minute) sees every stage.
    """
    clock = Clock(start=_START)
    receiver = WebhookReceiver(clock=clock)
    [secret] = receiver.add_client("prov")
    portal = SandboxPortal("strict")
    hotich = HoTichSimulator(agency_code=AGENCY, clock=clock, faults=faults)
    soap = SoapMinistrySimulator(agency_code=AGENCY, clock=clock, faults=faults)
    rest = RestMinistrySimulator(
        clock=clock, faults=faults, callback_faults=callback_faults, send=lambda p: "queued"
    )
    common = {"poll_seconds": poll_seconds, "breaker": {"failure_threshold": 1000}}
    settings = Settings(
        namespace=namespace,
        clients=(province_client(secret),),
        retry=RetryPolicy(initial=1.0, cap=20.0, max_attempts=40),
        engine=EngineSettings(lease_seconds=300.0),
        ministry=MinistrySettings.model_validate(
            {
                "routes": [
                    {
                        "name": "khai_sinh",
                        "procedures": [HOTICH_PROCEDURE],
                        "system": "hotich",
                        "profile": "hotich",
                        "progress": True,
                        "options": {"module": "KS"},
                    },
                    {
                        "name": "soap_case",
                        "procedures": [SOAP_PROCEDURE],
                        "system": "soap_ministry",
                        "profile": "soap",
                        "progress": True,
                    },
                    {
                        "name": "rest_case",
                        "procedures": [REST_PROCEDURE],
                        "system": "rest_ministry",
                        "profile": "rest",
                        "progress": True,
                    },
                ]
            }
        ),
        peers={
            "hotich": {
                "base_url": f"http://hotich.test{HOTICH_BASE_PATH}/",
                "token_url": "http://hotich.test/token",
                "client_id": hotich.tokens.client_id,
                "client_secret": hotich.tokens.client_secret,
                "options": {"agency_code": AGENCY, "feed_modules": ["KS"]},
                **common,
            },
            "soap_ministry": {
                "base_url": f"http://soap.test{SOAP_MINISTRY_PATH}",
                "token_url": "http://soap.test/token",
                "client_id": soap.tokens.client_id,
                "client_secret": soap.tokens.client_secret,
                "options": {"agency_code": AGENCY},
                **common,
            },
            "rest_ministry": {
                "base_url": f"http://rest.test{REST_BASE_PATH}/",
                "token_url": "http://rest.test/token",
                "client_id": rest.tokens.client_id,
                "client_secret": rest.tokens.client_secret,
                "callback_secret": REST_CALLBACK_SECRET,
                **common,
            },
        },
    )
    gateway = GatewayService(
        settings,
        redis_client,
        DvcqgConnector(portal.connector_config("http://portal.test"), transport=portal.transport()),
        clock=clock,
        webhook_transport=receiver.transport(),
        ministry_transports={
            "hotich": SimulatorTransport(hotich),
            "soap_ministry": SimulatorTransport(soap),
            "rest_ministry": SimulatorTransport(rest),
        },
    )
    if rest_callbacks:
        ministry = gateway.ministry
        assert ministry is not None  # noqa: S101 - configured just above

        def push(payload: dict[str, Any]) -> str:
            ministry.callback("rest_ministry", {}, orjson.dumps(payload))
            return "200"

        rest.callbacks.send = push
    return ProfilesRig(gateway, hotich, soap, rest, portal, receiver, clock)
