"""tthc-gateway: sync provincial dossier systems with Vietnam's national platforms.

The public API is re-exported here; modules not named in ``__all__`` are private.
"""

from gateway.config import ClientConfig, Settings, load_settings
from gateway.connectors import (
    ChannelSpec,
    Connector,
    DvcqgConfig,
    DvcqgConnector,
    Entry,
    Item,
    Mode,
    PeerReply,
    Service,
    WebhookConfig,
    WebhookConnector,
)
from gateway.errors import (
    ConfigurationError,
    ContractError,
    GatewayError,
    IdempotencyError,
    NotFoundError,
    PeerAuthError,
    PeerError,
    PermanentPeerError,
    PipelineError,
    TransientPeerError,
    TransitionError,
    UnsafeXMLError,
    Violation,
)
from gateway.mappers import (
    contract_error_from,
    dossier_from_national,
    dossier_to_national,
    step_from_national,
    step_to_national,
)
from gateway.packets import Packet, read_packet, write_packet
from gateway.pipeline import (
    BreakerConfig,
    Channels,
    CircuitBreaker,
    DeliveryState,
    DeliveryStatus,
    Outbox,
    PeerDelivery,
    RetryPolicy,
)
from gateway.pipeline.deadletters import DeadLetter, DeadLetterFilter, DeadLetters
from gateway.schemas import (
    Dossier,
    DossierRecord,
    DossierStatus,
    Lifecycle,
    ProgressRecord,
    ProgressStep,
    WireRules,
)
from gateway.service import GatewayService, Outcome

__version__ = "0.1.0"

__all__ = [
    "BreakerConfig",
    "ChannelSpec",
    "Channels",
    "CircuitBreaker",
    "ClientConfig",
    "ConfigurationError",
    "Connector",
    "ContractError",
    "DeadLetter",
    "DeadLetterFilter",
    "DeadLetters",
    "DeliveryState",
    "DeliveryStatus",
    "Dossier",
    "DossierRecord",
    "DossierStatus",
    "DvcqgConfig",
    "DvcqgConnector",
    "Entry",
    "GatewayError",
    "GatewayService",
    "IdempotencyError",
    "Item",
    "Lifecycle",
    "Mode",
    "NotFoundError",
    "Outbox",
    "Outcome",
    "Packet",
    "PeerAuthError",
    "PeerDelivery",
    "PeerError",
    "PeerReply",
    "PermanentPeerError",
    "PipelineError",
    "ProgressRecord",
    "ProgressStep",
    "RetryPolicy",
    "Service",
    "Settings",
    "TransientPeerError",
    "TransitionError",
    "UnsafeXMLError",
    "Violation",
    "WebhookConfig",
    "WebhookConnector",
    "WireRules",
    "__version__",
    "contract_error_from",
    "dossier_from_national",
    "dossier_to_national",
    "load_settings",
    "read_packet",
    "step_from_national",
    "step_to_national",
    "write_packet",
]
