"""A per-peer circuit breaker: stop calling a peer that keeps failing, probe it now and then.

States, as in Nygard's *Release It!*:

- **closed**: calls go through; consecutive transient failures are counted, a success resets it;
- **open**: after ``failure_threshold`` consecutive transient failures, calls are refused for
  ``reset_seconds`` (callers skip the peer: claims leave its work waiting, a synchronous endpoint
  answers 503 with ``Retry-After``);
- **half-open**: after that, up to ``half_open_probes`` calls are let through as probes; a probe's
  success closes the breaker, its failure opens it again for another ``reset_seconds``.

Only *transient* failures count (a peer that refuses one bad record is up). The state lives in
the process: each worker process learns a peer's health from its own calls, which keeps the
breaker off the hot path of Redis and still stops the flood within ``failure_threshold`` calls
per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BreakerConfig", "BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerConfig(BaseModel):
    """``[peers.<name>.breaker]``: when to stop calling a peer and when to try again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    failure_threshold: int = Field(5, ge=1, description="consecutive transient failures to open")
    reset_seconds: float = Field(30.0, gt=0, description="how long it stays open before a probe")
    half_open_probes: int = Field(1, ge=1, description="calls let through while half-open")


class CircuitBreaker:
    """Thread-safe breaker for one peer. ``clock`` is monotonic seconds (injectable in tests)."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probes = 0
        self.last_success: float | None = None
        """Wall-clock time (``time.time()``) of the last success, for health pages."""
        self.last_failure: float | None = None
        """Wall-clock time of the last transient failure."""

    @property
    def state(self) -> BreakerState:
        """The current state (open turns half-open by itself once ``reset_seconds`` passed)."""
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.config.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """May a call go out now? While half-open, each True is one probe the caller must settle
        with :meth:`record_success` or :meth:`record_failure` (or :meth:`release`)."""
        return self.enter()[0]

    def enter(self) -> tuple[bool, bool]:
        """Like :meth:`allow`, and whether the call took a half-open probe: only a caller that
        took one may :meth:`release` it (a call let through while closed has none, and its
        release would free another caller's probe that is still in flight)."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return True, False
            if state is BreakerState.OPEN:
                return False, False
            if self._probes >= self.config.half_open_probes:
                return False, False
            self._probes += 1
            return True, True

    def would_allow(self) -> bool:
        """Like :meth:`allow`, without taking a probe (to decide whether to claim work)."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return True
            return state is BreakerState.HALF_OPEN and self._probes < self.config.half_open_probes

    def retry_after(self) -> float:
        """Seconds until the breaker lets a probe through (0 when it would now)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.config.reset_seconds - (self._clock() - self._opened_at))

    def record_success(self) -> None:
        """The peer answered (even with a refusal of the request): close the breaker."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probes = 0
            self.last_success = time.time()

    def record_failure(self) -> None:
        """A transient failure (timeout, connection error, 5xx, 429)."""
        with self._lock:
            self.last_failure = time.time()
            state = self._state()
            if state is BreakerState.HALF_OPEN:
                # The probe failed: open again for a whole period.
                self._opened_at = self._clock()
                self._probes = 0
                return
            self._failures += 1
            if state is BreakerState.CLOSED and self._failures >= self.config.failure_threshold:
                self._opened_at = self._clock()
                self._probes = 0

    def release(self) -> None:
        """Give back a probe that ended without a verdict (nothing was sent after all)."""
        with self._lock:
            if self._probes > 0:
                self._probes -= 1

    @property
    def consecutive_failures(self) -> int:
        """Transient failures since the last success."""
        with self._lock:
            return self._failures
