"""``[evaluations]``: the Decision 766 scoring rules that are configuration, not constants.

Targets, weights, the on-time counting rule, working-day calendars with public holidays, the
procedures' maximum times and fee status, the agency hierarchy, and which clients may pull
evaluations. Where the domain reference is uncertain, the default is named in the README's
"Uncertain points" table. This module imports only pydantic (``gateway.config`` imports it).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "INDICATOR_IDS",
    "EvaluationSettings",
    "IndicatorRule",
    "ProcedureRule",
    "WorkCalendar",
]

INDICATOR_IDS = (
    "synced",
    "on_time",
    "avg_processing_days",
    "online",
    "online_payment",
    "e_result",
    "digitised",
    "reused",
    "from_citizen_store",
    "population_db",
    "dossier_satisfaction",
)
"""The indicators computed from dossier data, in the order they are printed."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IndicatorRule(_Frozen):
    """One indicator's group, maximum points and target ratio (``None``: points = max × R)."""

    group: str
    max_points: float = Field(ge=0)
    target: float | None = Field(None, gt=0, le=1)


def _default_indicators() -> dict[str, IndicatorRule]:
    # national-formats.md §5. Where the table gives a group but not the indicator's own points
    # (online dossiers), the split is ours and listed as uncertain in the README.
    return {
        "synced": IndicatorRule(group="transparency", max_points=6),
        "on_time": IndicatorRule(group="progress", max_points=20),
        "avg_processing_days": IndicatorRule(group="progress", max_points=0),
        "online": IndicatorRule(group="online_service", max_points=12, target=0.5),
        "online_payment": IndicatorRule(group="online_service", max_points=6),
        "e_result": IndicatorRule(group="digitisation", max_points=6),
        "digitised": IndicatorRule(group="digitisation", max_points=4, target=0.8),
        "reused": IndicatorRule(group="digitisation", max_points=2, target=0.8),
        "from_citizen_store": IndicatorRule(group="digitisation", max_points=4),
        "population_db": IndicatorRule(group="digitisation", max_points=4),
        "dossier_satisfaction": IndicatorRule(group="satisfaction", max_points=6, target=0.9),
    }


class WorkCalendar(_Frozen):
    """Working days in UTC+7: the weekdays that work, minus holidays, plus make-up days.

    ``weekdays`` uses ISO numbers (1 = Monday … 7 = Sunday). ``holidays`` are days off that
    would otherwise work (Tết, 30/4, 1/5, 2/9 …, including days moved by decision);
    ``working_days`` are days that work although their weekday does not (make-up Saturdays).
    """

    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()

    @model_validator(mode="after")
    def _weekdays_valid(self) -> WorkCalendar:
        bad = sorted(d for d in self.weekdays if not 1 <= d <= 7)
        if bad:
            raise ValueError(f"weekdays are ISO numbers 1..7, not {bad}")
        return self


class ProcedureRule(_Frozen):
    """What a procedure (``MaTTHC``) needs for scoring.

    ``max_days``: its statutory maximum processing time in working days, used when a dossier has
    no ``NgayHenTra``. ``fee_bearing``: the procedure charges a fee, so a dossier of it with no
    fee record counts against the online-payment share (``no fee record``).
    """

    max_days: float | None = Field(None, gt=0)
    fee_bearing: bool = False


class EvaluationSettings(_Frozen):
    """Everything the evaluations need; ``Settings.evaluations``.

    ``on_time_rule``: which dossiers the on-time indicator counts in a period: ``received``
    (received in it) or ``received_or_processed`` (received or finished in it).
    ``parents`` maps an agency code to its parent agency: an agency's figures include every
    agency below it. ``portal_clients`` are the ids of clients with the national portal's
    read-only role (the pull API); they need no agencies and should have none.
    ``population_db_codes``: which ``DSKetNoiCSDL`` codes mean the population database
    (``None``: any code). ``idcheck_outcomes``: which look-up outcomes count as a use.
    ``online_payment_codes``: ``DuocThanhToanTrucTuyen`` values that count as paid online.
    """

    enabled: bool = True
    indicators: dict[str, IndicatorRule] = Field(default_factory=_default_indicators)
    on_time_rule: Literal["received", "received_or_processed"] = "received_or_processed"
    calendars: dict[str, WorkCalendar] = Field(default_factory=lambda: {"default": WorkCalendar()})
    agency_calendars: dict[str, str] = Field(default_factory=dict)
    procedures: dict[str, ProcedureRule] = Field(default_factory=dict)
    parents: dict[str, str] = Field(default_factory=dict)
    agency_names: dict[str, str] = Field(default_factory=dict)
    """``TenDonVi`` per agency code, for the DongBoDanhGia summary (the code when absent)."""
    satisfaction_service_criterion: str = "service"
    """The rating criterion whose answer gives DongBoDanhGia's ``PhanTramDanhGiaDichVu…``."""
    portal_clients: frozenset[str] = frozenset()
    population_db_codes: frozenset[str] | None = None
    idcheck_outcomes: frozenset[str] = frozenset({"match", "mismatch", "invalid"})
    online_payment_codes: frozenset[str] = frozenset({"1", "2"})
    feed_page_max: int = Field(1000, ge=1, le=10_000)
    drain_interval_seconds: float = Field(0.5, gt=0, le=60)
    yield_to_delivery: bool = True
    """The background drain waits while a delivery is in flight or due, so a burst reaches the
    peers at full speed and is folded when delivery is idle (see ``gateway.evaluations.pacing``);
    never longer than ``max_lag_seconds`` nor for more than ``max_lag_items`` items. Readers
    always fold what is waiting first, so what they see is the same either way."""
    max_lag_seconds: float = Field(30.0, gt=0, le=3600)
    max_lag_items: int = Field(50_000, ge=1, le=10_000_000)
    """50,000: what the intake's in-memory hand-over keeps (beyond, the drain reads Redis)."""
    reader_drain_batches: int = Field(20, ge=0, le=10_000)
    """How many 1,000-item batches a reader (snapshot, feed page, CLI) folds in before it
    answers: bounds its latency when a large backlog (a first backfill) is waiting."""
    calendar_years: tuple[int, int] = (2015, 2045)

    @field_validator("indicators")
    @classmethod
    def _known_indicators(cls, value: dict[str, IndicatorRule]) -> dict[str, IndicatorRule]:
        unknown = sorted(set(value) - set(INDICATOR_IDS))
        if unknown:
            raise ValueError(f"unknown indicators {unknown}; known: {', '.join(INDICATOR_IDS)}")
        # A partial table overrides the defaults indicator by indicator; none is dropped.
        return {**_default_indicators(), **value}

    @model_validator(mode="after")
    def _consistent(self) -> EvaluationSettings:
        if "default" not in self.calendars:
            raise ValueError('calendars must include "default"')
        bad = sorted(a for a, c in self.agency_calendars.items() if c not in self.calendars)
        if bad:
            raise ValueError(f"agency_calendars name calendars that do not exist: {bad}")
        for start in self.parents:
            seen = {start}
            node = self.parents.get(start)
            while node is not None:
                if node in seen:
                    raise ValueError(f"parents has a cycle through {start}")
                seen.add(node)
                node = self.parents.get(node)
        lo, hi = self.calendar_years
        if not 1970 <= lo < hi <= 2200:
            raise ValueError("calendar_years must be (first, last) with 1970 <= first < last")
        return self

    def calendar_for(self, agency: str) -> WorkCalendar:
        """The working calendar of ``agency`` (its own, an ancestor's, or the default)."""
        node: str | None = agency
        while node is not None:
            name = self.agency_calendars.get(node)
            if name is not None:
                return self.calendars[name]
            node = self.parents.get(node)
        return self.calendars["default"]

    def ancestors(self, agency: str) -> list[str]:
        """``agency`` and every agency above it, nearest first."""
        out = [agency]
        node = self.parents.get(agency)
        while node is not None:
            out.append(node)
            node = self.parents.get(node)
        return out
