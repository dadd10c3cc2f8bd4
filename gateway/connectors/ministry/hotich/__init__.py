"""The Ministry of Justice civil-status (hộ tịch) profile: wire client (and, with the ministry
framework, the profile wrapping it)."""

from gateway.connectors.ministry.hotich.client import (
    SYSTEM,
    HoTichClient,
    HoTichConfig,
    HoTichReplyFields,
    classify,
)

__all__ = ["SYSTEM", "HoTichClient", "HoTichConfig", "HoTichReplyFields", "classify"]
