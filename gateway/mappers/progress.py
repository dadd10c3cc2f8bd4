"""Progress mapping: the provincial ``ProgressStep`` ↔ the national ``CapNhatTienDoHoSoMC`` step.

Same conventions as :mod:`gateway.mappers.dossier`: towards the portal the step is written as wire
strings under national names and validated once (so ``NguoiXuLy``'s configured limit applies);
back from the portal, datetimes come out as aware UTC+7 values. Nothing is lost but the original
UTC offset and sub-second part of each datetime, and "" versus None in optional text.
"""

from __future__ import annotations

from gateway.mappers._scalars import local_time, opt_local_time, opt_wire_time
from gateway.schemas.national import ProgressRecord
from gateway.schemas.provincial import ProgressStep
from gateway.schemas.wire import WireRules, format_wire_datetime

__all__ = ["step_from_national", "step_to_national"]


def step_to_national(s: ProgressStep, *, rules: WireRules | None = None) -> ProgressRecord:
    """The national ``CapNhatTienDoHoSoMC`` record for a provincial step.

    ``rules`` carries configured limits (defaults when None). Raises ``pydantic.ValidationError``,
    located by national field names, when the step breaks a national rule (e.g. ``NguoiXuLy``
    longer than its limit).
    """
    return ProgressRecord.model_validate(
        {
            "MaHoSo": s.dossier_no,
            "NguoiXuLy": s.handler,
            "ChucDanh": s.handler_title,
            "ThoiDiemXuLy": format_wire_datetime(s.handled_at),
            "PhongBanXuLy": s.department,
            "NoiDungXuLy": s.content,
            "TrangThai": s.status,
            "NgayBatDau": opt_wire_time(s.started_at),
            "NgayKetThucTheoQuyDinh": opt_wire_time(s.statutory_end_at),
        },
        context=rules,
    )


def step_from_national(r: ProgressRecord) -> ProgressStep:
    """The provincial step for a validated national record; datetimes come out in UTC+7."""
    return ProgressStep.model_validate(
        {
            "dossier_no": r.dossier_no,
            "handler": r.handler,
            "handler_title": r.handler_title,
            "handled_at": local_time(r.handled_at),
            "department": r.department,
            "content": r.content,
            "status": r.status,
            "started_at": opt_local_time(r.started_at),
            "statutory_end_at": opt_local_time(r.statutory_end_at),
        }
    )
