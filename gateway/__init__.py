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
from gateway.connectors.population import PopulationConfig
from gateway.errors import (
    ConfigurationError,
    ContractError,
    GatewayError,
    IdempotencyError,
    NotFoundError,
    PeerAuthError,
    PeerError,
    PeerReplyError,
    PermanentPeerError,
    PipelineError,
    TransientPeerError,
    TransitionError,
    UnsafeXMLError,
    Violation,
    WebhookSignatureError,
)
from gateway.identity import IdentityService
from gateway.identity_settings import IdentitySettings
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
    IntakePolicy,
    Lifecycle,
    ProgressRecord,
    ProgressStep,
    WireRules,
)
from gateway.schemas.identity import IdentityAnswer, IdentityQuery
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
    "IdentityAnswer",
    "IdentityQuery",
    "IdentityService",
    "IdentitySettings",
    "IntakePolicy",
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
    "PeerReplyError",
    "PermanentPeerError",
    "PipelineError",
    "PopulationConfig",
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
    "WebhookSignatureError",
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
