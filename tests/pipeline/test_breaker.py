"""The circuit breaker's states, driven by a settable clock."""

from __future__ import annotations

from gateway.pipeline.breaker import BreakerConfig, BreakerState, CircuitBreaker


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _state(b: CircuitBreaker) -> BreakerState:
    # A call, not the property: mypy would narrow the property across asserts.
    return b.state


def _breaker(threshold: int = 3, reset: float = 10.0) -> tuple[CircuitBreaker, _Clock]:
    clock = _Clock()
    cfg = BreakerConfig(failure_threshold=threshold, reset_seconds=reset)
    return CircuitBreaker("peer", cfg, clock=clock), clock


def test_opens_after_consecutive_failures_only() -> None:
    b, _ = _breaker(threshold=3)
    b.record_failure()
    b.record_failure()
    b.record_success()  # resets the count
    b.record_failure()
    b.record_failure()
    assert _state(b) is BreakerState.CLOSED
    assert b.allow()
    b.record_failure()
    assert _state(b) is BreakerState.OPEN
    assert not b.allow()
    assert not b.would_allow()


def test_half_open_lets_one_probe_and_closes_on_success() -> None:
    b, clock = _breaker(threshold=1, reset=10.0)
    b.record_failure()
    assert b.retry_after() == 10.0
    clock.now += 10.0
    assert _state(b) is BreakerState.HALF_OPEN
    assert b.would_allow()
    assert b.allow()
    assert not b.allow()  # one probe at a time
    b.record_success()
    assert _state(b) is BreakerState.CLOSED
    assert b.retry_after() == 0.0


def test_failed_probe_opens_for_a_whole_period() -> None:
    b, clock = _breaker(threshold=1, reset=10.0)
    b.record_failure()
    clock.now += 12.0
    assert b.allow()
    b.record_failure()
    assert _state(b) is BreakerState.OPEN
    assert b.retry_after() == 10.0
    clock.now += 9.9
    assert not b.allow()


def test_released_probe_can_be_taken_again() -> None:
    b, clock = _breaker(threshold=1, reset=1.0)
    b.record_failure()
    clock.now += 1.0
    assert b.allow()
    b.release()
    assert b.allow()
