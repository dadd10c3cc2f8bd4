"""The national population database (CSDLQG về dân cư), in two profiles chosen by configuration.

- ``lgsp``: :class:`LgspConnector`, JSON through the province's data-sharing platform;
- ``soap``: :class:`SoapConnector`, plain SOAP described by ``contracts/population.wsdl``.

Both answer a :class:`~gateway.mappers.citizen_xml.CitizenReply` or raise our error tree:
:class:`~gateway.errors.TransientPeerError` (timeouts, connection errors, 429, 5xx; the breaker
counts these), :class:`~gateway.errors.PeerAuthError` (our credentials), or
:class:`~gateway.errors.PermanentPeerError` (a SOAP fault, a refusal) and its
:class:`~gateway.errors.PeerReplyError` (a reply the gateway refuses to read).
"""

from __future__ import annotations

import httpx

from gateway.connectors.population.base import SYSTEM, LookupRequest, PopulationConnector
from gateway.connectors.population.config import DEFAULT_WSDL, PopulationConfig
from gateway.connectors.population.lgsp import LgspConnector
from gateway.connectors.population.soap import SoapConnector

__all__ = [
    "DEFAULT_WSDL",
    "SYSTEM",
    "LgspConnector",
    "LookupRequest",
    "PopulationConfig",
    "PopulationConnector",
    "SoapConnector",
    "build_population_connector",
]


def build_population_connector(
    config: PopulationConfig, *, transport: httpx.AsyncBaseTransport | None = None
) -> PopulationConnector:
    """The connector of ``config.profile``; ``transport`` replaces the network (tests)."""
    if config.profile == "lgsp":
        return LgspConnector(config, transport=transport)
    return SoapConnector(config, transport=transport)
