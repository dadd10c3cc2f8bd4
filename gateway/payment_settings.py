"""``[payments]``: which provider serves which agency or procedure, and each provider's setup.

``routes`` are tried in order; the first whose ``agency`` and ``procedure`` match (``"*"``
matches any) names the provider. A provider named by a route must be configured.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.connectors.paygov import PayGovConfig
from gateway.connectors.vnpay import VnpayConfig
from gateway.pipeline.breaker import BreakerConfig
from gateway.schemas.payments import Provider

__all__ = ["PaymentRoute", "PaymentSettings"]


class PaymentRoute(BaseModel):
    """One routing rule: payments of this agency and procedure go to this provider."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider
    agency: str = "*"
    procedure: str = "*"

    def matches(self, agency: str, procedure: str) -> bool:
        """True when this rule covers the agency and procedure."""
        return self.agency in ("*", agency) and self.procedure in ("*", procedure)


class PaymentSettings(BaseModel):
    """Everything payments need; ``None`` in Settings (the default) leaves them off (404)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    paygov: PayGovConfig | None = None
    vnpay: VnpayConfig | None = None
    routes: tuple[PaymentRoute, ...] = Field(min_length=1)
    stale_after_seconds: int = Field(
        900, ge=60, description="a payment with no callback this long after creation is queried"
    )
    sweep_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="how often the workers' sweeper runs the stale-payment sweep"
        " (once per interval across every gateway process of the namespace)",
    )
    breaker: BreakerConfig = BreakerConfig()
    audit_max_len: int = Field(1_000_000, ge=1000, description="payment audit entries kept")

    @model_validator(mode="after")
    def _routed_providers_configured(self) -> Self:
        for i, route in enumerate(self.routes):
            if getattr(self, route.provider) is None:
                raise ValueError(
                    f"routes.{i}: provider {route.provider} has no [payments.{route.provider}]"
                )
        return self

    def provider_for(self, agency: str, procedure: str) -> Provider | None:
        """The provider serving this agency and procedure, ``None`` if no rule covers it."""
        for route in self.routes:
            if route.matches(agency, procedure):
                return route.provider
        return None
