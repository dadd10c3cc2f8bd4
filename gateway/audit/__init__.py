"""The tamper-evident audit trail: a hash chain of peer exchanges, identity look-ups and operator
actions (:mod:`gateway.audit.chain`), and where each kind is recorded."""

from gateway.audit.chain import GENESIS, Archived, AuditChain, ChainBreak, Verification
from gateway.audit.exchanges import AsyncAuditedTransport, AuditedTransport, audit_http
from gateway.audit.operators import AuditedDeadLetters
from gateway.audit.settings import AuditSettings

__all__ = [
    "GENESIS",
    "Archived",
    "AsyncAuditedTransport",
    "AuditChain",
    "AuditSettings",
    "AuditedDeadLetters",
    "AuditedTransport",
    "ChainBreak",
    "Verification",
    "audit_http",
]
