"""The generic SOAP ministry profile (registered as ``"soap"``): zeep over the system's httpx
client, a WSDL from ``contracts/``, SOAP faults classified by configuration."""

from gateway.connectors.ministry.soap.profile import (
    DEFAULT_FAULTS,
    DEFAULT_STATUSES,
    GENERIC_WSDL,
    FaultClass,
    SoapCaseProfile,
    SoapOperations,
    SoapSettings,
    build,
    fault_class,
)
from gateway.connectors.ministry.soap.transport import HttpxTransport

__all__ = [
    "DEFAULT_FAULTS",
    "DEFAULT_STATUSES",
    "GENERIC_WSDL",
    "FaultClass",
    "HttpxTransport",
    "SoapCaseProfile",
    "SoapOperations",
    "SoapSettings",
    "build",
    "fault_class",
]
