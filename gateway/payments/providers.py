"""The payment providers behind one small interface, each with its circuit breaker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from gateway.connectors.paygov import PayGovClient
from gateway.connectors.vnpay import VnpayClient
from gateway.errors import PermanentPeerError, TransientPeerError
from gateway.pipeline.breaker import CircuitBreaker
from gateway.schemas.payments import Payment, PaymentRequest, ProviderState

__all__ = ["BreakerOpenError", "Guarded"]

_T = TypeVar("_T")


class BreakerOpenError(TransientPeerError):
    """The provider's breaker is open: not called; ask again after ``retry_after``."""


class Guarded:
    """One provider client and its breaker: every call goes through :meth:`call`."""

    def __init__(self, client: PayGovClient | VnpayClient, breaker: CircuitBreaker) -> None:
        self.client = client
        self.breaker = breaker
        self.name = client.name

    def call(self, operation: str, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` if the breaker allows; transient failures count against it."""
        # enter(), not allow(): a call let through while the breaker was closed holds no
        # half-open probe, so a call that ends without a verdict (a bug of ours, an interrupt)
        # must not give back a probe another call still holds, nor close the breaker.
        allowed, probe = self.breaker.enter()
        if not allowed:
            raise BreakerOpenError(
                "circuit open",
                system=self.name,
                operation=operation,
                retry_after=self.breaker.retry_after(),
            )
        try:
            result = fn()
        except TransientPeerError:
            self.breaker.record_failure()
            raise
        except PermanentPeerError:
            self.breaker.record_success()  # an answer, even a refusal, is not an outage
            raise
        except BaseException:
            if probe:
                self.breaker.release()  # no verdict on the provider either way
            raise
        self.breaker.record_success()
        return result

    def create(self, payment: Payment, request: PaymentRequest) -> str:
        """The payment URL (PayGov ``INIT``; VNPay signs locally)."""
        return self.call("create", lambda: self.client.create(payment, request))

    def query(self, payment: Payment) -> ProviderState:
        """What the provider holds for the payment's reference."""
        client = self.client
        if isinstance(client, VnpayClient):
            return self.call("querydr", lambda: client.query(payment.reference, payment.created_at))
        return self.call("QUERY", lambda: client.query(payment.reference))
