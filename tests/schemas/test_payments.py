"""Money is integer đồng: no float on any payment model, and floats are refused, not rounded."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel, ValidationError

from gateway.schemas import payments
from gateway.schemas.payments import FeeLine


def _types(annotation: object) -> typing.Iterator[object]:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _types(arg)


def test_no_payment_model_has_a_float_anywhere() -> None:
    """Every field of every model in gateway.schemas.payments, nested types included."""
    models = [
        m
        for m in vars(payments).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == payments.__name__
    ]
    assert len(models) >= 4
    for model in models:
        for name, field in model.model_fields.items():
            found = [t for t in _types(field.annotation) if t is float]
            assert not found, f"{model.__name__}.{name}"


@pytest.mark.parametrize("amount", [1.5, 1000.0, "1000", True, -1, 10**12 + 1])
def test_amounts_must_be_whole_dong_integers(amount: object) -> None:
    """1.5, 1000.0, "1000", True, negative and absurd amounts are refused, naming SoTien."""
    with pytest.raises(ValidationError) as err:
        FeeLine.model_validate(
            {"LoaiPhiLePhi": "1", "MaPhiLePhi": "L", "TenPhiLePhi": "x", "SoTien": amount}
        )
    assert err.value.errors()[0]["loc"] == ("SoTien",)
