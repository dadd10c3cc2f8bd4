"""Fault injection shared by every simulator: rates drawn from one seeded generator."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Fault", "FaultDice", "Faults", "Roll"]

Fault = Literal["error", "unavailable", "timeout", "drop"]
"""``error``: a failure in the peer's own words (HTTP 500), nothing applied; ``unavailable``:
HTTP 503, nothing applied; ``timeout``: applied, then no answer before the client gives up;
``drop``: applied, then the connection closes without an answer."""

_T = TypeVar("_T")


class Faults(BaseModel):
    """How often each fault happens, per service call (logins are never faulted).

    Rates are probabilities in [0, 1]; the four exclusive faults together at most 1. ``latency``
    delays a share ``latency_rate`` of calls by that many seconds, on top of any fault.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(0.0, ge=0, le=1)
    unavailable_rate: float = Field(0.0, ge=0, le=1)
    timeout_rate: float = Field(0.0, ge=0, le=1)
    drop_rate: float = Field(0.0, ge=0, le=1)
    latency: float = Field(0.0, ge=0, le=60)
    latency_rate: float = Field(1.0, ge=0, le=1)
    seed: int = 0

    @model_validator(mode="after")
    def _at_most_one(self) -> Faults:
        total = self.error_rate + self.unavailable_rate + self.timeout_rate + self.drop_rate
        if total > 1:
            raise ValueError(f"error, unavailable, timeout and drop rates add up to {total:g} > 1")
        return self


@dataclass(frozen=True, slots=True)
class Roll:
    """What one call gets: a fault or none, and a delay in seconds."""

    fault: Fault | None
    delay: float


class FaultDice:
    """Draws faults for calls from ``faults``; thread-safe, reproducible for one seed and order."""

    def __init__(self, faults: Faults, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.faults = faults
        self._sleep = sleep
        self._rng = random.Random(faults.seed)  # noqa: S311 - fault injection, not cryptography
        self._lock = threading.Lock()

    def roll(self) -> Roll:
        """Draw the fault and delay for one call."""
        f = self.faults
        with self._lock:
            r = self._rng.random()
            delayed = f.latency > 0 and self._rng.random() < f.latency_rate
        fault: Fault | None = None
        edge = 0.0
        for name, rate in (
            ("error", f.error_rate),
            ("unavailable", f.unavailable_rate),
            ("timeout", f.timeout_rate),
            ("drop", f.drop_rate),
        ):
            edge += rate
            if r < edge:
                fault = name  # type: ignore[assignment]  # the names above are Fault literals
                break
        return Roll(fault, f.latency if delayed else 0.0)

    def wait(self, roll: Roll) -> None:
        """Sleep out the roll's delay (the simulated peer is slow)."""
        if roll.delay:
            self._sleep(roll.delay)

    def choice(self, options: Sequence[_T]) -> _T:
        """One of ``options``, from the same seeded generator."""
        with self._lock:
            return self._rng.choice(options)
