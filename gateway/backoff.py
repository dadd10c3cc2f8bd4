"""The pause after a lost compare-and-set race, for loops that try again in-process.

Several writers (the audit chain, the evaluations store, a payment's patch of the national
record) read, compute and write back under a guard that refuses the write when another writer
got there first. Trying again at once lets the quicker writer win every race while it keeps
writing; a growing, jittered pause ends that. Full jitter (uniform in ``[0, ceiling]``), the
ceiling doubling from ``first`` to ``cap``. Delivery retries are not this: they wait between
dramatiq messages (:class:`gateway.pipeline.retry.RetryPolicy`).
"""

from __future__ import annotations

import random
import time

__all__ = ["pause_after_lost_races"]


def pause_after_lost_races(lost: int, *, first: float, cap: float) -> None:
    """Sleep before the next try, ``lost`` races having been lost so far (none: no pause)."""
    if lost <= 0:
        return
    ceiling = min(cap, first * 2 ** (lost - 1))
    time.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not a secret
