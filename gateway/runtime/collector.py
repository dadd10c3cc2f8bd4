"""The cyclic garbage collector's settings for a long-running gateway process.

CPython's defaults (a young collection every 700 net allocations of container objects) suit
small scripts. A gateway parses 500-record calls into tens of thousands of short-lived dicts and
lists a second; with the defaults it ran about 1,200 young and 10 full collections per 20,000
records, each full one walking every object the process holds (the GIL held meanwhile). The
bench measured 2.7 s of 9.4 s in the collector (``bench/bench_pipeline.py``, README
*Benchmarks*).

:func:`tune_collector` freezes what start-up built (modules, models, settings: never garbage, so
never walked again) and collects young objects less often. Objects are still freed by reference
counting the moment they die; only reference cycles wait longer for the collector. It is
process-wide, so the entry points call it (``gateway serve`` and ``gateway worker``), not a
library.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_collector"]

YOUNG_THRESHOLD = 50_000
"""Net container allocations between young collections (CPython's default: 700)."""


def tune_collector(young: int = YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Freeze the objects alive now and raise the young threshold; returns the old thresholds.

    Call once start-up is done. Calling it again freezes what was built since.
    """
    old = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, old[1], old[2])
    return old
