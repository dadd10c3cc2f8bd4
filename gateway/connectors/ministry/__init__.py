"""Ministry systems (liên thông): hand dossiers over, track their cases, bring results back.

The generic parts (routing, the hand-over channel, the case store, tracking and the flow back)
are profile-driven; each ministry protocol is one small profile module (see :mod:`.profile` for
how one plugs in).
"""

from gateway.connectors.ministry.connector import MinistryConnector, forms_of, handover_entry
from gateway.connectors.ministry.http import post_json, system_client
from gateway.connectors.ministry.oauth import ClientCredentials
from gateway.connectors.ministry.profile import (
    PROFILE_MODULES,
    PROFILES,
    CaseRef,
    CaseResult,
    CaseState,
    CaseStatus,
    HandOver,
    MinistryProfile,
    NoOptions,
    ProfileType,
    SystemContext,
    profile_type,
)
from gateway.connectors.ministry.settings import (
    MinistrySettings,
    Route,
    SystemConfig,
    patterns_overlap,
)

__all__ = [
    "PROFILES",
    "PROFILE_MODULES",
    "CaseRef",
    "CaseResult",
    "CaseState",
    "CaseStatus",
    "ClientCredentials",
    "HandOver",
    "MinistryConnector",
    "MinistryProfile",
    "MinistrySettings",
    "NoOptions",
    "ProfileType",
    "Route",
    "SystemConfig",
    "SystemContext",
    "forms_of",
    "handover_entry",
    "patterns_overlap",
    "post_json",
    "profile_type",
    "system_client",
]
