"""Round-trip properties of the dossier and step mappers.

(a) national → provincial → national is the identity on ``DossierRecord`` and ``ProgressRecord``.
(b) provincial → national → provincial gives back the original once its datetimes are taken to
    UTC+7 (same instant) and the two fields the national format does not carry are cleared: the
    applicant's ``birth_date`` and ``sex``. Nothing else is lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from pydantic import BaseModel

from gateway.mappers import (
    dossier_from_national,
    dossier_to_national,
    step_from_national,
    step_to_national,
)
from gateway.schemas import VIETNAM_TZ, Dossier, DossierRecord, ProgressRecord, ProgressStep

from .strategies import dossiers, national_dossiers, national_steps, progress_steps

UTC_PLUS_7 = timedelta(hours=7)


def in_vietnam_time(value: Any) -> Any:
    """A model dump with every datetime rewritten as its UTC+7 ISO string (same instant)."""
    if isinstance(value, datetime):
        return value.astimezone(VIETNAM_TZ).isoformat()
    if isinstance(value, dict):
        return {k: in_vietnam_time(v) for k, v in value.items()}
    if isinstance(value, list):
        return [in_vietnam_time(v) for v in value]
    return value


def datetimes_of(value: Any) -> list[datetime]:
    """Every datetime inside a model dump."""
    if isinstance(value, datetime):
        return [value]
    if isinstance(value, dict):
        return [dt for v in value.values() for dt in datetimes_of(v)]
    if isinstance(value, list):
        return [dt for v in value for dt in datetimes_of(v)]
    return []


def without_uncarried(d: Dossier) -> Dossier:
    """``d`` with the fields the national format does not carry cleared."""
    applicant = d.applicant.model_copy(update={"birth_date": None, "sex": None})
    return d.model_copy(update={"applicant": applicant})


def normalised(model: BaseModel) -> Any:
    """The comparable form of a provincial record."""
    return in_vietnam_time(model.model_dump())


@settings(max_examples=200)
@given(national_dossiers)
def test_national_dossier_survives_provincial_round_trip(record: DossierRecord) -> None:
    """DossierRecord → Dossier → DossierRecord is the identity."""
    again = dossier_to_national(dossier_from_national(record))
    assert again == record
    assert again.to_wire() == record.to_wire()


@settings(max_examples=200)
@given(national_steps)
def test_national_step_survives_provincial_round_trip(record: ProgressRecord) -> None:
    """ProgressRecord → ProgressStep → ProgressRecord is the identity."""
    assert step_to_national(step_from_national(record)) == record


@settings(max_examples=200)
@given(dossiers())
def test_provincial_dossier_loses_nothing_the_national_format_carries(d: Dossier) -> None:
    """Dossier → DossierRecord → Dossier equals the original up to UTC+7 and birth date/sex."""
    back = dossier_from_national(dossier_to_national(d))
    assert normalised(back) == normalised(without_uncarried(d))


@settings(max_examples=200)
@given(dossiers())
def test_provincial_dossier_comes_back_in_utc_plus_7(d: Dossier) -> None:
    """Every datetime of a dossier read back from the national format is in UTC+7."""
    back = dossier_from_national(dossier_to_national(d))
    assert all(dt.utcoffset() == UTC_PLUS_7 for dt in datetimes_of(back.model_dump()))


@settings(max_examples=200)
@given(progress_steps)
def test_provincial_step_loses_nothing(s: ProgressStep) -> None:
    """ProgressStep → ProgressRecord → ProgressStep equals the original up to UTC+7."""
    back = step_from_national(step_to_national(s))
    assert normalised(back) == normalised(s)
