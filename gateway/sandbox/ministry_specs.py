"""The sandbox hộ tịch, SOAP and REST ministries as ``gateway sandbox`` simulators.

Kept beside :mod:`gateway.sandbox.registry` rather than in it so that each ministry profile's
simulator, its port and its configuration snippet live with the others of its kind; the
registry appends :func:`profile_simulators` to its list. Each snippet is a route to the
simulator's sample procedure and the system's ``[peers.<name>]`` section.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

# Registers the three profiles, so the configuration the sandbox prints loads in this process.
# A gateway started from that configuration in another process needs the profiles in
# gateway.connectors.ministry.profile.PROFILE_MODULES (see the README).
import gateway.connectors.ministry.hotich.profile
import gateway.connectors.ministry.rest.profile
import gateway.connectors.ministry.soap.profile  # noqa: F401 - imported for registration
from gateway.sandbox.base import Simulator

if TYPE_CHECKING:
    from gateway.sandbox.registry import SandboxOptions, SimulatorSpec

__all__ = [
    "HOTICH_SAMPLE_PROCEDURE",
    "REST_SAMPLE_PROCEDURE",
    "SOAP_SAMPLE_PROCEDURE",
    "profile_simulators",
]

HOTICH_SAMPLE_PROCEDURE = "1.001193"
"""Đăng ký khai sinh (birth registration)."""
SOAP_SAMPLE_PROCEDURE = "1.004227"
REST_SAMPLE_PROCEDURE = "1.008001"
_AGENCY = "000.00.01.H22"  # the sample dossiers' agency


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _build_hotich(options: SandboxOptions) -> Simulator:
    from gateway.sandbox.hotich import HoTichSimulator

    return HoTichSimulator(agency_code=_AGENCY, faults=options.faults)


def _hotich_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    from gateway.sandbox.hotich import HOTICH_BASE_PATH, HoTichSimulator

    assert isinstance(sim, HoTichSimulator)  # noqa: S101 - built by _build_hotich above
    return "\n".join(
        [
            f"[[ministry.routes]]  # birth registration ({HOTICH_SAMPLE_PROCEDURE}) to hộ tịch",
            'name = "khai_sinh"',
            f"procedures = [{_q(HOTICH_SAMPLE_PROCEDURE)}]",
            'system = "hotich"',
            'profile = "hotich"',
            "progress = true",
            'options = { module = "KS" }',
            "",
            "[peers.hotich]",
            f"base_url = {_q(url + HOTICH_BASE_PATH + '/')}",
            f"token_url = {_q(url + '/token')}",
            f"client_id = {_q(sim.tokens.client_id)}",
            f"client_secret = {_q(sim.tokens.client_secret)}",
            "poll_seconds = 30",
            "feed_seconds = 30",
            f'options = {{ agency_code = {_q(sim.agency_code)}, feed_modules = ["KS"] }}',
        ]
    )


def _build_soap(options: SandboxOptions) -> Simulator:
    from gateway.sandbox.soap_ministry import SoapMinistrySimulator

    return SoapMinistrySimulator(agency_code=_AGENCY, faults=options.faults)


def _soap_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    from gateway.sandbox.soap_ministry import SOAP_MINISTRY_PATH, SoapMinistrySimulator

    assert isinstance(sim, SoapMinistrySimulator)  # noqa: S101 - built by _build_soap above
    return "\n".join(
        [
            f"[[ministry.routes]]  # {SOAP_SAMPLE_PROCEDURE} to the generic SOAP ministry",
            'name = "soap_case"',
            f"procedures = [{_q(SOAP_SAMPLE_PROCEDURE)}]",
            'system = "soap_ministry"',
            'profile = "soap"',
            "progress = true",
            "",
            "[peers.soap_ministry]  # WSDL: contracts/ministry/generic-case.wsdl",
            f"base_url = {_q(url + SOAP_MINISTRY_PATH)}",
            f"token_url = {_q(url + '/token')}",
            f"client_id = {_q(sim.tokens.client_id)}",
            f"client_secret = {_q(sim.tokens.client_secret)}",
            "poll_seconds = 30",
            f"options = {{ agency_code = {_q(sim.agency_code)} }}",
        ]
    )


def _build_rest(options: SandboxOptions) -> Simulator:
    from gateway.sandbox.rest_ministry import RestMinistrySimulator

    return RestMinistrySimulator(
        faults=options.faults,
        callback_faults=options.callback_faults,
        callback_url=options.gateway_url + "/v1/ministries/rest_ministry/callback",
    )


def _rest_snippet(sim: Simulator, url: str, options: SandboxOptions) -> str:
    from gateway.sandbox.rest_ministry import REST_BASE_PATH, RestMinistrySimulator

    assert isinstance(sim, RestMinistrySimulator)  # noqa: S101 - built by _build_rest above
    return "\n".join(
        [
            f"[[ministry.routes]]  # {REST_SAMPLE_PROCEDURE} to the generic REST ministry",
            'name = "rest_case"',
            f"procedures = [{_q(REST_SAMPLE_PROCEDURE)}]",
            'system = "rest_ministry"',
            'profile = "rest"',
            "progress = true",
            "",
            "[peers.rest_ministry]  # the REST profile's defaults fit this simulator",
            f"base_url = {_q(url + REST_BASE_PATH + '/')}",
            f"token_url = {_q(url + '/token')}",
            f"client_id = {_q(sim.tokens.client_id)}",
            f"client_secret = {_q(sim.tokens.client_secret)}",
            f"callback_secret = {_q(sim.callback_secret)}",
            "poll_seconds = 30",
        ]
    )


def profile_simulators() -> list[SimulatorSpec]:
    """The three specs (imported when called: the registry calls it once it is defined)."""
    from gateway.sandbox.registry import SimulatorSpec

    return [
        SimulatorSpec(
            "hotich",
            9610,
            "Ministry of Justice hộ tịch (civil status)",
            _build_hotich,
            _hotich_snippet,
        ),
        SimulatorSpec(
            "soap_ministry", 9620, "generic SOAP ministry (our WSDL)", _build_soap, _soap_snippet
        ),
        SimulatorSpec("rest_ministry", 9630, "generic REST ministry", _build_rest, _rest_snippet),
    ]
