"""When the background drain lets delivery go first.

The fold is derived data for Decision 766 scoring, read by the national portal's pulls and by
operators; a dossier delivered late costs the province, an evaluation folded a few seconds late
costs nothing. Folding beside a burst of deliveries takes the process's GIL and Redis's single
thread from them (a fifth of the GIL in the pipeline benchmark), so while a delivery is in flight
the background drain waits, and folds the burst as soon as delivery is idle.

The wait is bounded twice, so that a gateway that is never idle still folds: once the backlog is
``max_lag_seconds`` old, or ``max_lag_items`` long, the drain folds regardless of delivery until
it has caught up. Readers (scorecard, feed page, ``gateway score``) never wait: they fold what is
waiting before they answer, as before, so what they see does not depend on this pacing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["DrainPacer"]


class DrainPacer:
    """Decides, before each batch of the background drain, whether it waits for delivery.

    ``busy`` answers whether a delivery is in flight or due now (``None``: never wait). The
    backlog's age is counted from the first batch this pacer saw waiting, which is within one
    drain interval of the oldest unfolded item's acceptance; it restarts when the drain catches up.
    """

    def __init__(
        self,
        busy: Callable[[], bool] | None,
        *,
        max_lag_seconds: float,
        max_lag_items: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._busy = busy
        self._max_seconds = max_lag_seconds
        self._max_items = max_lag_items
        self._clock = clock
        self._behind_since: float | None = None
        self.deferrals = 0
        """Batches put off for delivery, since start (for the benchmark and the tests)."""

    def lag_seconds(self) -> float:
        """How long the drain has been behind (0 when it has caught up)."""
        since = self._behind_since
        return 0.0 if since is None else max(0.0, self._clock() - since)

    def defer(self, backlog: int) -> bool:
        """True when the next batch should wait: items are waiting, delivery is busy, and
        neither bound is reached. ``backlog`` is the number of items not yet folded."""
        if backlog <= 0:
            self._behind_since = None
            return False
        if self._behind_since is None:
            self._behind_since = self._clock()
        if self._busy is None or backlog >= self._max_items:
            return False
        if self.lag_seconds() >= self._max_seconds:
            return False
        if not self._busy():
            return False
        self.deferrals += 1
        return True
