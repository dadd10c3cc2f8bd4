"""Progress-step mapping, hand-written cases (gateway/mappers/progress.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.mappers import step_from_national, step_to_national
from gateway.schemas import VIETNAM_TZ, ProgressRecord, ProgressStep, WireRules


def step(**changes: Any) -> ProgressStep:
    """A small valid provincial step."""
    data: dict[str, Any] = {
        "dossier_no": "000.00.01.H22-250310-0007",
        "handler": "Trần Văn Bình",
        "handled_at": "2025-03-14T14:30:00+07:00",
        "content": "Yêu cầu bổ sung bản vẽ mặt bằng móng",
        "status": "5",
    }
    data.update(changes)
    return ProgressStep.model_validate(data)


def test_step_maps_to_national_names() -> None:
    """Every provincial field lands on its national name, as wire strings."""
    s = step(
        handler_title="Trưởng phòng",
        department="Phòng Quản lý hoạt động xây dựng",
        started_at="2025-03-11T08:05:00+07:00",
        statutory_end_at="2025-03-26T17:00:00+07:00",
    )
    assert step_to_national(s).to_wire() == {
        "MaHoSo": "000.00.01.H22-250310-0007",
        "NguoiXuLy": "Trần Văn Bình",
        "ChucDanh": "Trưởng phòng",
        "ThoiDiemXuLy": "20250314143000",
        "PhongBanXuLy": "Phòng Quản lý hoạt động xây dựng",
        "NoiDungXuLy": "Yêu cầu bổ sung bản vẽ mặt bằng móng",
        "TrangThai": "5",
        "NgayBatDau": "20250311080500",
        "NgayKetThucTheoQuyDinh": "20250326170000",
    }


def test_step_afternoon_stays_afternoon() -> None:
    """A step handled at 14:30 is sent as …143000, never …023000."""
    assert step_to_national(step()).handled_at == "20250314143000"


def test_step_other_offset_is_converted() -> None:
    """A step handled at 23:10Z is sent as 06:10 the next day in Vietnam."""
    record = step_to_national(step(handled_at="2025-03-13T23:10:00Z"))
    assert record.handled_at == "20250314061000"


def test_step_optional_fields_are_left_out() -> None:
    """Unknown title, department and dates are not sent."""
    sent = step_to_national(step()).to_wire()
    assert set(sent) == {"MaHoSo", "NguoiXuLy", "ThoiDiemXuLy", "NoiDungXuLy", "TrangThai"}


def test_step_handler_over_limit_names_the_national_field() -> None:
    """A 51-character handler name is refused at NguoiXuLy (limit 50)."""
    with pytest.raises(ValidationError) as info:
        step_to_national(step(handler="x" * 51))
    [error] = info.value.errors()
    assert (error["loc"], error["type"]) == (("NguoiXuLy",), "string_too_long")


def test_step_configured_limit_applies() -> None:
    """A NguoiXuLy limit given in WireRules replaces the default one."""
    rules = WireRules(max_lengths={"NguoiXuLy": 5})
    with pytest.raises(ValidationError):
        step_to_national(step(), rules=rules)


def test_step_from_national_is_aware_utc_plus_7() -> None:
    """Datetimes read from a national step are aware, in Asia/Ho_Chi_Minh."""
    record = ProgressRecord.model_validate(
        {
            "MaHoSo": "000.00.01.H22-250310-0007",
            "NguoiXuLy": "Lê Thị Hoa",
            "ThoiDiemXuLy": "20250403083000",
            "NoiDungXuLy": "Trả kết quả",
            "TrangThai": "10",
            "NgayBatDau": "",
        }
    )
    s = step_from_national(record)
    assert s.handled_at == datetime(2025, 4, 3, 8, 30, tzinfo=VIETNAM_TZ)
    assert s.handled_at.tzinfo is VIETNAM_TZ
    assert s.started_at is None
