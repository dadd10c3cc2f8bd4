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
from gateway.sandbox.portal import LENIENT, PROFILES, STRICT, PortalProfile, SandboxPortal
from gateway.sandbox.registry import SIMULATORS, Sandbox, SandboxOptions, SimulatorSpec
from gateway.sandbox.server import LEDGER_PATH, SimulatorServer
from gateway.sandbox.webhooks import WebhookReceiver
from gateway.sandbox.workload import AcceptedLog, life_cycle

__all__ = [
    "LEDGER_PATH",
    "LENIENT",
    "PROFILES",
    "SIMULATORS",
    "STRICT",
    "AcceptedDossier",
    "AcceptedLog",
    "Answer",
    "DeadItem",
    "FaultDice",
    "Faults",
    "PortalProfile",
    "PortalReport",
    "Sandbox",
    "SandboxOptions",
    "SandboxPortal",
    "Simulator",
    "SimulatorServer",
    "SimulatorSpec",
    "SimulatorTransport",
    "WebhookReceiver",
    "WebhookReport",
    "check_portal",
    "check_webhooks",
    "life_cycle",
]
