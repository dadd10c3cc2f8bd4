"""LLTP code tables are typed: known values parse, anything else is refused naming the field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from gateway.schemas import DeclareType, Gender, IdType, ObjectRequest


class _Form(BaseModel):
    genderId: Gender
    idTypeId: IdType
    declareTypeId: DeclareType
    objectRequestId: ObjectRequest


def test_known_codes_parse() -> None:
    """The published values map to their members."""
    form = _Form.model_validate(
        {"genderId": 1, "idTypeId": 3, "declareTypeId": 3846, "objectRequestId": 72}
    )
    assert form.genderId is Gender.MALE
    assert form.idTypeId is IdType.CITIZEN_ID_CARD
    assert form.declareTypeId is DeclareType.INDIVIDUAL
    assert form.objectRequestId is ObjectRequest.VIETNAMESE_CITIZEN


@pytest.mark.parametrize(
    ("field", "value"),
    [("genderId", 2), ("idTypeId", 4), ("declareTypeId", 3848), ("objectRequestId", 70)],
)
def test_unknown_code_is_refused_naming_the_field(field: str, value: int) -> None:
    """A value outside the table is a validation error at that field."""
    good = {"genderId": 1, "idTypeId": 3, "declareTypeId": 3846, "objectRequestId": 72}
    with pytest.raises(ValidationError) as info:
        _Form.model_validate(good | {field: value})
    assert info.value.errors()[0]["loc"] == (field,)
