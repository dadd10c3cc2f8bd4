"""The simulators ``gateway sandbox`` starts: one :class:`SimulatorSpec` each, in one list.

Adding a peer's simulator is one entry in :data:`SIMULATORS`: a name, a default port, how to
build it from :class:`SandboxOptions`, and the gateway configuration that points at it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from gateway.sandbox.base import Simulator
from gateway.sandbox.callbacks import CallbackFaults
from gateway.sandbox.faults import Faults
from gateway.sandbox.portal import SandboxPortal
from gateway.sandbox.server import LEDGER_PATH, SimulatorServer
from gateway.sandbox.webhooks import WebhookReceiver

__all__ = ["SIMULATORS", "Sandbox", "SandboxOptions", "SimulatorSpec"]


@dataclass(frozen=True)
class SandboxOptions:
    """What the operator chose: profile, faults (for every simulator), who is down."""

    profile: str = "strict"
    faults: Faults = field(default_factory=Faults)
    session_calls: int | None = None
    """Overrides the profile's session length in calls when set."""
    client_id: str = "demo"
    webhook_secrets: tuple[str, ...] = ()
    down: frozenset[str] = frozenset()
    """Names of simulators that start down (answer 503), where they support it."""
    gateway_url: str = "http://127.0.0.1:8080"
    """The gateway the payment simulators send callbacks to."""
    callback_faults: CallbackFaults = field(default_factory=CallbackFaults)
    """Faults of the payment simulators' callbacks (duplicates, delays, bad checksums …)."""


@dataclass(frozen=True)
class SimulatorSpec:
    """One simulator: how to build it and what configuration points the gateway at it."""

    name: str
    default_port: int
    summary: str
    build: Callable[[SandboxOptions], Simulator]
    snippet: Callable[[Simulator, str, SandboxOptions], str]
    """TOML for a gateway config, given the simulator, its URL and the options."""


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _build_portal(options: SandboxOptions) -> Simulator:
    overrides: dict[str, Any] = {}
    if options.session_calls is not None:
        overrides["session_calls"] = options.session_calls
    return SandboxPortal(options.profile, faults=options.faults, **overrides)


def _portal_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    assert isinstance(sim, SandboxPortal)  # noqa: S101 - built by _build_portal just above
    return "\n".join(
        [
            "[dvcqg]",
            f"base_url = {_q(url)}",
            f"username = {_q(sim.username)}",
            f"password = {_q(sim.password)}",
            f"dstcode = {_q(sim.dstcode)}",
        ]
    )


def _build_webhooks(options: SandboxOptions) -> Simulator:
    receiver = WebhookReceiver(faults=options.faults)
    receiver.add_client(options.client_id, options.webhook_secrets or None)
    receiver.set_down("webhooks" in options.down)
    return receiver


def _webhook_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    assert isinstance(sim, WebhookReceiver)  # noqa: S101 - built by _build_webhooks just above
    cid = options.client_id
    secrets = ", ".join(_q(s) for s in sim.secrets(cid))
    return "\n".join(
        [
            "[[clients]]",
            f"id = {_q(cid)}",
            f"api_key = {_q(cid + '-key-change-me')}",
            f"username = {_q(cid)}",
            f"password = {_q(cid + '-password-change-me')}",
            'agencies = ["*"]',
            f"webhook_url = {_q(f'{url}/hooks/{cid}')}",
            f"webhook_secrets = [{secrets}]",
        ]
    )


def _build_population(options: SandboxOptions) -> Simulator:
    from gateway.sandbox.population import PopulationPeer
    from gateway.testing.population import PopulationSimulator

    simulator = PopulationSimulator.from_seed(faults=options.faults)
    simulator.set_down("population" in options.down)
    return PopulationPeer(simulator)


def _population_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    from gateway.sandbox.population import PopulationPeer

    assert isinstance(sim, PopulationPeer)  # noqa: S101 - built by _build_population above
    config = sim.simulator.config("lgsp", url)
    secret = config.client_secret.get_secret_value() if config.client_secret else ""
    return "\n".join(
        [
            "[identity.population]",
            'profile = "lgsp"  # or "soap", with soap_url below',
            f"base_url = {_q(url)}",
            f"token_path = {_q(config.token_path)}",
            f"lookup_path = {_q(config.lookup_path)}",
            f"soap_url = {_q(config.soap_url or '')}",
            f"client_id = {_q(config.client_id or '')}",
            f"client_secret = {_q(secret)}",
            f"integration_code = {_q(config.integration_code)}",
            f"service_code = {_q(config.service_code)}",
            "",
            "# Which clients may ask, and which fields of a matching record they get back",
            '# ("verify" for match or mismatch only). Without an entry, a client gets 403.',
            "[identity.entitlements]",
            f'{_q(options.client_id)} = ["HoVaTen", "NgayThangNamSinh", "ThuongTru"]',
        ]
    )


def _build_paygov(options: SandboxOptions) -> Simulator:
    from gateway.sandbox.paygov import PayGovSimulator

    return PayGovSimulator(
        faults=options.faults,
        callback_faults=options.callback_faults,
        callback_url=options.gateway_url + "/payments/paygov/confirm",
    )


def _paygov_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    from gateway.sandbox.paygov import PayGovSimulator

    assert isinstance(sim, PayGovSimulator)  # noqa: S101 - built by _build_paygov above
    return "\n".join(
        [
            "[payments.paygov]",
            f"base_url = {_q(url)}",
            f"path = {_q(sim.path)}",
            f"partner_code = {_q(sim.partner_code)}",
            f"secret = {_q(sim.secret)}",
            "",
            "[[payments.routes]]  # the sample dossiers' agency pays through PayGov",
            'provider = "paygov"',
            'agency = "000.00.01.H22"',
        ]
    )


def _build_vnpay(options: SandboxOptions) -> Simulator:
    from gateway.sandbox.vnpay import VnpaySimulator

    return VnpaySimulator(
        faults=options.faults,
        callback_faults=options.callback_faults,
        ipn_url=options.gateway_url + "/payments/vnpay/ipn",
    )


def _vnpay_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    from gateway.sandbox.vnpay import API_PATH, PAY_PATH, VnpaySimulator

    assert isinstance(sim, VnpaySimulator)  # noqa: S101 - built by _build_vnpay above
    gateway = sim.ipn_url.split("/payments/", 1)[0]
    return "\n".join(
        [
            "[payments.vnpay]",
            f"pay_url = {_q(url + PAY_PATH)}",
            f"api_url = {_q(url + API_PATH)}",
            f"tmn_code = {_q(sim.tmn_code)}",
            f"secret = {_q(sim.secret)}",
            f"return_url = {_q(gateway + '/payments/vnpay/return')}",
            "",
            "[[payments.routes]]  # every other agency through VNPay",
            'provider = "vnpay"',
        ]
    )


def _build_lltp(options: SandboxOptions) -> Simulator:
    from gateway.sandbox.lltp import LltpFaults, LltpSimulator

    return LltpSimulator(
        faults=options.faults,
        lltp_faults=LltpFaults(
            duplicate_callback_rate=options.callback_faults.duplicate_rate,
            seed=options.faults.seed,
        ),
        callback_url=options.gateway_url + "/v1/ministries/lltp/callback",
    )


def _lltp_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    from gateway.sandbox.lltp import API_PREFIX, SAMPLE_PROCEDURE, LltpSimulator

    assert isinstance(sim, LltpSimulator)  # noqa: S101 - built by _build_lltp above
    return "\n".join(
        [
            f"[[ministry.routes]]  # judicial record certificates ({SAMPLE_PROCEDURE}) to LLTP",
            'name = "lltp"',
            f"procedures = [{_q(SAMPLE_PROCEDURE)}]",
            'system = "lltp"',
            'profile = "lltp"',
            "progress = true",
            'options = { office = "STP-H22" }',
            "",
            "[peers.lltp]",
            f"base_url = {_q(url + API_PREFIX)}",
            f"token_url = {_q(url + '/token')}",
            f"client_id = {_q(sim.client_id)}",
            f"client_secret = {_q(sim.client_secret)}",
            f"callback_secret = {_q(sim.callback_secret)}",
            "poll_seconds = 30",
            "feed_seconds = 10",
        ]
    )


SIMULATORS: list[SimulatorSpec] = [
    SimulatorSpec("portal", 9100, "DVCQG adapter portal", _build_portal, _portal_snippet),
    SimulatorSpec(
        "webhooks", 9200, "webhook receiver (Standard Webhooks)", _build_webhooks, _webhook_snippet
    ),
    SimulatorSpec(
        "population",
        9300,
        "population database (LGSP JSON and SOAP)",
        _build_population,
        _population_snippet,
    ),
    SimulatorSpec("paygov", 9400, "PayGov payment platform", _build_paygov, _paygov_snippet),
    SimulatorSpec("vnpay", 9500, "VNPay payment gateway", _build_vnpay, _vnpay_snippet),
    SimulatorSpec(
        "lltp", 9600, "Ministry of Justice LLTP (judicial records)", _build_lltp, _lltp_snippet
    ),
]


class Sandbox:
    """Every registered simulator, served on loopback; a context manager.

    ``ports`` maps simulator names to ports (the spec's default otherwise; 0 picks a free one).
    Refuses a non-loopback host: the sandbox has no authentication.
    """

    def __init__(
        self,
        options: SandboxOptions | None = None,
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
        hold_seconds: float = 35.0,
        specs: Sequence[SimulatorSpec] | None = None,
    ) -> None:
        if not _loopback(host):
            raise ValueError(f"sandbox host must be a loopback address, not {host!r}")
        self.options = options if options is not None else SandboxOptions()
        self.specs = list(SIMULATORS if specs is None else specs)
        chosen = ports or {}
        unknown = set(chosen) - {s.name for s in self.specs}
        if unknown:
            raise ValueError(f"no simulator named {', '.join(sorted(unknown))}")
        self.simulators: dict[str, Simulator] = {s.name: s.build(self.options) for s in self.specs}
        self.servers: dict[str, SimulatorServer] = {
            s.name: SimulatorServer(
                self.simulators[s.name],
                host=host,
                port=chosen.get(s.name, s.default_port),
                hold_seconds=hold_seconds,
            )
            for s in self.specs
        }

    def start(self) -> None:
        """Start every server (stopping those started if one cannot bind)."""
        try:
            for server in self.servers.values():
                server.start()
        except OSError:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every server."""
        for server in self.servers.values():
            server.stop()

    def url(self, name: str) -> str:
        """The base URL of simulator ``name``."""
        return self.servers[name].url

    def snippet(self) -> str:
        """Gateway configuration (TOML) pointing at every simulator."""
        return "\n\n".join(
            s.snippet(self.simulators[s.name], self.url(s.name), self.options) for s in self.specs
        )

    def ledger_urls(self) -> dict[str, str]:
        """Where each simulator's ledger is served."""
        return {s.name: self.url(s.name) + LEDGER_PATH for s in self.specs}

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The hộ tịch, SOAP and REST ministries live in their own module; its specs are appended once
# SimulatorSpec exists (that module imports it from here).
def _profile_simulators() -> list[SimulatorSpec]:
    from gateway.sandbox.ministry_specs import profile_simulators

    return profile_simulators()


SIMULATORS.extend(_profile_simulators())
