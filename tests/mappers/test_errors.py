"""ValidationError → ContractError translation (gateway/mappers/errors.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.errors import ContractError, Violation
from gateway.mappers import contract_error_from
from gateway.schemas import DossierRecord, ProgressRecord

STEP = {
    "MaHoSo": "000.00.01.H22-250310-0007",
    "NguoiXuLy": "Lê Thị Hoa",
    "ThoiDiemXuLy": "20250403083000",
    "NoiDungXuLy": "Trả kết quả",
    "TrangThai": "10",
}


def caught(model: type[DossierRecord | ProgressRecord], data: object) -> ValidationError:
    """The ValidationError that validating ``data`` raises."""
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return info.value


def test_violation_carries_national_path_and_rule() -> None:
    """A bad timestamp becomes a Violation at ThoiDiemXuLy with rule wire_datetime."""
    exc = caught(ProgressRecord, {**STEP, "ThoiDiemXuLy": "20250403023000PM"})
    [violation] = contract_error_from(exc).violations
    assert (violation.path, violation.rule) == ("ThoiDiemXuLy", "wire_datetime")
    assert "yyyyMMddHHmmss" in violation.message


def test_prefix_locates_the_record_in_its_batch() -> None:
    """With prefix data.3 the path reads data.3.<national field>."""
    exc = caught(ProgressRecord, {**STEP, "NguoiXuLy": "x" * 51})
    [violation] = contract_error_from(exc, prefix="data.3").violations
    assert violation == Violation("data.3.NguoiXuLy", "string_too_long", violation.message)


def test_nested_path_uses_list_indexes() -> None:
    """A nested error path joins names and list indexes with dots."""
    data = {"TaiLieuNop": [{"TenTepDinhKem": "Đơn", "DuocSoHoa": "2"}]}
    error = contract_error_from(caught(DossierRecord, data))
    assert "TaiLieuNop.0.DuocSoHoa" in {v.path for v in error.violations}


def test_every_error_becomes_a_violation() -> None:
    """Each pydantic error gives one violation; missing fields use rule missing."""
    exc = caught(ProgressRecord, {"MaHoSo": "000.00.01.H22-250310-0007"})
    error = contract_error_from(exc)
    assert len(error.violations) == exc.error_count()
    assert {v.rule for v in error.violations} == {"missing"}


def test_root_error_path_is_the_prefix() -> None:
    """An input that is not an object is reported at the prefix itself."""
    [violation] = contract_error_from(caught(ProgressRecord, "x"), prefix="data.0").violations
    assert (violation.path, violation.rule) == ("data.0", "model_type")


def test_source_and_cause_are_kept() -> None:
    """The source names the input in the message and the ValidationError is the cause."""
    exc = caught(ProgressRecord, {**STEP, "TrangThai": "11"})
    error = contract_error_from(exc, source="CapNhatTienDoHoSoMC")
    assert isinstance(error, ContractError)
    assert error.source == "CapNhatTienDoHoSoMC"
    assert str(error).startswith("CapNhatTienDoHoSoMC: 1 violation(s): TrangThai:")
    assert error.__cause__ is exc
