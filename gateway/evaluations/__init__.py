"""Decision 766 evaluations: per-dossier evaluation records, the indicators, and their feed.

- :mod:`~gateway.evaluations.record`: the evaluation record of a dossier and its pure folds.
- :mod:`~gateway.evaluations.indicators`: the indicators as pure functions over records.
- :mod:`~gateway.evaluations.store`: the records in Redis, atomic updates, the change feed.
- :mod:`~gateway.evaluations.evaluator`: the intake hook and the readers' entry points.
- :mod:`~gateway.evaluations.pacing`: when the background drain lets delivery go first.
- :mod:`~gateway.evaluations.settings`: ``[evaluations]`` configuration.
"""

from gateway.evaluations.calendar import WorkingTime
from gateway.evaluations.evaluator import Evaluations
from gateway.evaluations.feed import FeedPage, decode_cursor, encode_cursor
from gateway.evaluations.indicators import (
    Explanation,
    IndicatorResult,
    Scorecard,
    Scorer,
    on_time_verdict,
)
from gateway.evaluations.pacing import DrainPacer
from gateway.evaluations.periods import Period, parse_period
from gateway.evaluations.record import (
    EvaluationRecord,
    fold_dossier,
    fold_dossier_wire,
    fold_idchecks,
    fold_rating,
    fold_step,
    fold_step_wire,
)
from gateway.evaluations.settings import (
    INDICATOR_IDS,
    EvaluationSettings,
    IndicatorRule,
    ProcedureRule,
    WorkCalendar,
)
from gateway.evaluations.store import EvaluationStore, Item, Update

__all__ = [
    "INDICATOR_IDS",
    "DrainPacer",
    "EvaluationRecord",
    "EvaluationSettings",
    "EvaluationStore",
    "Evaluations",
    "Explanation",
    "FeedPage",
    "IndicatorResult",
    "IndicatorRule",
    "Item",
    "Period",
    "ProcedureRule",
    "Scorecard",
    "Scorer",
    "Update",
    "WorkCalendar",
    "WorkingTime",
    "decode_cursor",
    "encode_cursor",
    "fold_dossier",
    "fold_dossier_wire",
    "fold_idchecks",
    "fold_rating",
    "fold_step",
    "fold_step_wire",
    "on_time_verdict",
    "parse_period",
]
