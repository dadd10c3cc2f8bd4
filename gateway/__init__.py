"""tthc-gateway: sync provincial dossier systems with Vietnam's national platforms.

The public API is re-exported here; modules not named in ``__all__`` are private.
"""

from gateway.errors import (
    ConfigurationError,
    ContractError,
    GatewayError,
    IdempotencyError,
    NotFoundError,
    PeerError,
    PermanentPeerError,
    PipelineError,
    TransientPeerError,
    TransitionError,
    UnsafeXMLError,
    Violation,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "ContractError",
    "GatewayError",
    "IdempotencyError",
    "NotFoundError",
    "PeerError",
    "PermanentPeerError",
    "PipelineError",
    "TransientPeerError",
    "TransitionError",
    "UnsafeXMLError",
    "Violation",
    "__version__",
]
