"""Local simulators of every peer the gateway delivers to, with faults and a ledger each.

Use them in-process (``simulator.transport()``, an ``httpx.MockTransport``) or on loopback
(:class:`SimulatorServer`, or every registered one at once with :class:`Sandbox`, which is what
``gateway sandbox`` runs). :mod:`gateway.sandbox.accounting` checks a ledger against what the
gateway accepted.
"""

from gateway.sandbox.accounting import (
    AcceptedDossier,
    DeadItem,
    PortalReport,
    WebhookReport,
    check_portal,
    check_webhooks,
)
from gateway.sandbox.base import Answer, Simulator, SimulatorTransport
from gateway.sandbox.faults import FaultDice, Faults
from gateway.sandbox.hotich import HoTichSimulator
from gateway.sandbox.ministry_cases import ADVANCE_PATH, CaseBook, FaultPlan, SandboxClock
from gateway.sandbox.portal import LENIENT, PROFILES, STRICT, PortalProfile, SandboxPortal
from gateway.sandbox.registry import SIMULATORS, Sandbox, SandboxOptions, SimulatorSpec
from gateway.sandbox.rest_ministry import RestMinistrySimulator
from gateway.sandbox.server import LEDGER_PATH, SimulatorServer
from gateway.sandbox.soap_ministry import SoapMinistrySimulator
from gateway.sandbox.webhooks import WebhookReceiver
from gateway.sandbox.workload import AcceptedLog, life_cycle

__all__ = [
    "ADVANCE_PATH",
    "LEDGER_PATH",
    "LENIENT",
    "PROFILES",
    "SIMULATORS",
    "STRICT",
    "AcceptedDossier",
    "AcceptedLog",
    "Answer",
    "CaseBook",
    "DeadItem",
    "FaultDice",
    "FaultPlan",
    "Faults",
    "HoTichSimulator",
    "PortalProfile",
    "PortalReport",
    "RestMinistrySimulator",
    "Sandbox",
    "SandboxClock",
    "SandboxOptions",
    "SandboxPortal",
    "Simulator",
    "SimulatorServer",
    "SimulatorSpec",
    "SimulatorTransport",
    "SoapMinistrySimulator",
    "WebhookReceiver",
    "WebhookReport",
    "check_portal",
    "check_webhooks",
    "life_cycle",
]
