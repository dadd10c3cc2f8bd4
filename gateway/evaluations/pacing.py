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
from collections import deque
from collections.abc import Callable

__all__ = ["DrainPacer"]


class DrainPacer:
    """Decides, before each batch of the background drain, whether it waits for delivery.

    ``busy`` answers whether a delivery is in flight or due now (``None``: never wait). The
    backlog's age is that of the oldest item not yet folded, as first seen by this pacer (within
    one drain interval of its acceptance).
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
        self._until: int | None = None
        """The newest item id when a bound was reached: the drain folds regardless of delivery
        until its cursor is there (under steady intake the backlog is never seen empty)."""
        self._seen: deque[tuple[float, int]] = deque()
        """(time, newest item id) at each call that saw the newest id grow, oldest first, while
        behind. The items after one entry's id up to the
        next's were first seen at the next's time, so the oldest unfolded item (``cursor + 1``)
        was first seen at the time of the first entry whose id is above the cursor."""
        self.deferrals = 0
        """Batches put off for delivery, since start (for the benchmark and the tests)."""

    def lag_seconds(self) -> float:
        """How long the drain has been behind (0 when it has caught up)."""
        since = self._behind_since
        return 0.0 if since is None else max(0.0, self._clock() - since)

    def defer(self, cursor: int, newest: int) -> bool:
        """True when the next batch should wait: items are waiting, delivery is busy, and
        neither bound is reached. ``cursor`` is the last item id folded, ``newest`` the last
        one accepted."""
        backlog = newest - cursor
        if backlog <= 0:
            self._behind_since = None
            self._seen.clear()
            self._until = None
            return False
        self._track(self._clock(), cursor, newest)
        if self._until is not None:
            if cursor < self._until:
                return False  # a bound was reached: fold regardless until caught up
            self._until = None
        if self._busy is None:
            return False
        if backlog >= self._max_items or self.lag_seconds() >= self._max_seconds:
            self._until = newest
            return False
        if not self._busy():
            return False
        self.deferrals += 1
        return True

    def _track(self, now: float, cursor: int, newest: int) -> None:
        seen = self._seen
        if not seen or newest > seen[-1][1]:
            if len(seen) < _MAX_SEEN:
                seen.append((now, newest))
            else:  # the newer items counted as seen at the last entry's time: older, not younger
                seen[-1] = (seen[-1][0], newest)
        while seen and seen[0][1] <= cursor:
            seen.popleft()
        self._behind_since = seen[0][0] if seen else now


_MAX_SEEN = 1024
