"""Retry policy per peer: full-jitter exponential backoff with a cap and a total time budget.

The policy is data (configuration), and it is evaluated between dramatiq messages, not inside a
call loop: a failed batch is rescheduled in Redis and picked up again later, possibly by another
worker. That is why this is a small value object rather than a tenacity ``Retrying`` (tenacity's
strategies assume one in-process loop holding the attempt state).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RetryPolicy"]


class RetryPolicy(BaseModel):
    """When to try a failed delivery again, and when to give up.

    Delay before attempt ``n`` (``n`` failures so far) is uniform in
    ``[0, min(cap, initial * multiplier ** (n - 1))]`` seconds (full jitter), but never less than
    a peer's ``Retry-After``. Give up once ``max_attempts`` sends failed or ``budget`` seconds
    passed since the first failure.
    """

    model_config = ConfigDict(frozen=True)

    initial: float = Field(1.0, gt=0, description="seconds; the first backoff ceiling")
    multiplier: float = Field(2.0, ge=1)
    cap: float = Field(300.0, gt=0, description="seconds; no backoff ceiling exceeds this")
    budget: float = Field(
        24 * 3600.0, gt=0, description="seconds from the first failure before dead-lettering"
    )
    max_attempts: int = Field(50, ge=1, description="failed sends before dead-lettering")

    def delay(
        self,
        failures: int,
        *,
        retry_after: float | None = None,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> float:
        """Seconds to wait after the ``failures``-th failure (1-based)."""
        ceiling = min(self.cap, self.initial * self.multiplier ** max(failures - 1, 0))
        wait = rng(0.0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait

    def exhausted(self, failures: int, first_failure_at: float, now: float) -> bool:
        """True when no further attempt is allowed (times in seconds since the epoch)."""
        return failures >= self.max_attempts or now - first_failure_at >= self.budget
