"""The collector settings of a long-running gateway process."""

from __future__ import annotations

import gc

from gateway.runtime import tune_collector
from gateway.runtime.collector import YOUNG_THRESHOLD


def test_tune_collector_freezes_start_up_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    try:
        old = tune_collector()
        assert old == before
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles are still collected, only less often
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
