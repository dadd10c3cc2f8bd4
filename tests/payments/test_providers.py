"""A provider's breaker around its calls: failures count, answers close it, and a call that ends
with no verdict neither closes it nor frees a half-open probe another call holds."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from gateway.connectors.vnpay import VnpayClient, VnpayConfig
from gateway.errors import PermanentPeerError, TransientPeerError
from gateway.payments.providers import BreakerOpenError, Guarded
from gateway.pipeline.breaker import BreakerConfig, BreakerState, CircuitBreaker

CONFIG = VnpayConfig(
    pay_url="https://pay.test/paymentv2/vpcpay.html",
    api_url="https://pay.test/merchant_webapi/api/transaction",
    tmn_code="TMN1",
    secret=SecretStr("vnsecret"),
    return_url="https://gw.test/payments/vnpay/return",
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _guarded(clock: Clock) -> Guarded:
    config = BreakerConfig(failure_threshold=2, reset_seconds=10, half_open_probes=1)
    return Guarded(VnpayClient(CONFIG), CircuitBreaker("vnpay", config, clock=clock))


def _state(g: Guarded) -> BreakerState:
    # A call, not the property: mypy would keep the first assertion's narrowing for the next.
    return g.breaker.state


def _open(g: Guarded) -> None:
    """Two transient failures: the threshold, so the breaker opens."""
    for _ in range(2):
        with pytest.raises(TransientPeerError):
            g.call("querydr", _transient)


def _transient() -> int:
    raise TransientPeerError("503", system="vnpay", operation="querydr")


def _refused() -> int:
    raise PermanentPeerError("refused", system="vnpay", operation="querydr")


def _bug() -> int:
    raise ValueError("ours, not the provider's")


def test_transient_failures_open_the_breaker_and_calls_are_then_refused() -> None:
    g = _guarded(Clock())
    _open(g)
    assert _state(g) is BreakerState.OPEN
    with pytest.raises(BreakerOpenError) as info:
        g.call("querydr", lambda: 1)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0


def test_a_refusal_is_an_answer_and_closes_a_half_open_breaker() -> None:
    clock = Clock()
    g = _guarded(clock)
    _open(g)
    clock.now = 11
    with pytest.raises(PermanentPeerError):
        g.call("querydr", _refused)
    assert _state(g) is BreakerState.CLOSED


def test_a_call_without_a_verdict_gives_back_its_probe_but_does_not_close_the_breaker() -> None:
    clock = Clock()
    g = _guarded(clock)
    _open(g)
    clock.now = 11
    with pytest.raises(ValueError, match="ours"):
        g.call("querydr", _bug)
    # Still half-open (a bug of ours says nothing of the provider), and the probe is free again.
    assert _state(g) is BreakerState.HALF_OPEN
    assert g.call("querydr", lambda: 7) == 7
    assert _state(g) is BreakerState.CLOSED


def test_a_call_let_through_while_closed_never_frees_another_calls_probe() -> None:
    """Call A goes out while closed; during it the breaker opens and turns half-open, and call B
    takes the one probe. A then ends without a verdict: B's probe stays held, nothing closes."""
    clock = Clock()
    g = _guarded(clock)
    took: list[tuple[bool, bool]] = []

    def slow_call_a() -> int:
        _open(g)
        clock.now = 11
        took.append(g.breaker.enter())  # call B, in flight from here on
        raise ValueError("ours, not the provider's")

    with pytest.raises(ValueError, match="ours"):
        g.call("QUERY", slow_call_a)
    assert took == [(True, True)]
    assert _state(g) is BreakerState.HALF_OPEN
    with pytest.raises(BreakerOpenError):
        g.call("querydr", lambda: 1)  # B still holds the probe: nothing else goes out
