"""Tasks the workers' sweeper runs besides its own sweep, each at its own interval.

The pipeline knows nothing of what a task does: a higher layer (payments' stale sweep, say)
registers a callable here, and :class:`~gateway.pipeline.broker.WorkerPool` calls
:meth:`Periodics.run_due` on every sweeper tick. Time comes from an injected clock, so tests
advance it instead of sleeping. A task that raises is logged and tried again at its next turn;
it never stops the sweeper nor the other tasks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Periodic", "Periodics"]

log = logging.getLogger("gateway.pipeline")


@dataclass
class Periodic:
    """One task: ``run`` every ``every`` seconds; first at the first tick after it was added."""

    name: str
    run: Callable[[], object]
    every: float
    next_at: float = 0.0


class Periodics:
    """The registered tasks of one gateway instance (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tasks: dict[str, Periodic] = {}
        # Held while a task runs, so remove() returns only once its task can no longer be
        # running: whoever owns the task may then close what it uses.
        self._running = threading.Lock()

    def add(self, name: str, run: Callable[[], object], every: float) -> None:
        """Register (or replace) task ``name``."""
        if every <= 0:
            raise ValueError(f"{name}: interval must be positive, not {every}")
        with self._running:
            self._tasks[name] = Periodic(name, run, every)

    def remove(self, name: str) -> None:
        """Unregister ``name``, waiting for a run of it in progress to end."""
        with self._running:
            self._tasks.pop(name, None)

    def names(self) -> list[str]:
        """The registered tasks."""
        return sorted(self._tasks)

    def run_due(self) -> list[str]:
        """Run every task whose turn has come; the names of those run (even if one raised)."""
        ran: list[str] = []
        with self._running:
            for task in list(self._tasks.values()):
                now = self.clock()
                if now < task.next_at:
                    continue
                task.next_at = now + task.every
                ran.append(task.name)
                try:
                    task.run()
                except Exception:  # one task's failure must not stop the sweeper or the others
                    log.exception("periodic task %s failed; again in %.0fs", task.name, task.every)
        return ran
