"""``[audit]``: where the tamper-evident audit chain lives and how its health is checked."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuditSettings"]


class AuditSettings(BaseModel):
    """The audit chain's store. By default it is the gateway's own Redis (same durability)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    """Off only to measure what the chain costs (bench/); a production gateway keeps it on."""
    redis_url: str | None = None
    """A separate Redis for the chain (e.g. on another host); the gateway's Redis when absent."""
    probe_seconds: float = Field(1.0, gt=0, le=60)
    """After a failed write, how often the intake checks whether the store is back."""
