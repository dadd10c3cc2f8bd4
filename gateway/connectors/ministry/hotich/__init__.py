"""The Ministry of Justice civil-status (hộ tịch) profile: the wire client and the profile
that wraps it (registered as ``"hotich"`` when :mod:`.profile` is imported)."""

from gateway.connectors.ministry.hotich.client import (
    SYSTEM,
    HoTichClient,
    HoTichReplyFields,
    HoTichSettings,
    classify,
)
from gateway.connectors.ministry.hotich.profile import (
    HOTICH_STATES,
    HoTichProfile,
    HoTichRouteOptions,
    build,
)

__all__ = [
    "HOTICH_STATES",
    "SYSTEM",
    "HoTichClient",
    "HoTichProfile",
    "HoTichReplyFields",
    "HoTichRouteOptions",
    "HoTichSettings",
    "build",
    "classify",
]
