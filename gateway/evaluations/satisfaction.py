"""The monthly satisfaction summary DVCQG takes as ``DongBoDanhGia``, from citizens' ratings.

Shape from OpenCPS (``national-formats.md`` §2.1): ``data[]`` of one row per agency, month and
procedure, ``NgayTongHop`` "M-YYYY", ``TongSoNguoiDanhGia`` a number, the six percentages as
"NN%". The overall verdict gives ``PhanTramDanhGia…``; the answer to one configurable criterion
(``service`` by default) gives ``PhanTramDanhGiaDichVu…``. Percentages are rounded half up, so
the three of a row may add to 99 or 101: the portal's own rule is not public.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from gateway.evaluations.periods import Period
from gateway.evaluations.record import EvaluationRecord

__all__ = ["LEVELS", "monthly_rows"]

LEVELS = ("very_satisfied", "satisfied", "unsatisfied")
_SUFFIX = {"very_satisfied": "RatHaiLong", "satisfied": "HaiLong", "unsatisfied": "ChuaHaiLong"}


def _percent(part: int, whole: int) -> str:
    return f"{(200 * part + whole) // (2 * whole)}%" if whole else "0%"


def monthly_rows(
    records: Iterable[EvaluationRecord],
    *,
    agency: str,
    month: Period,
    agency_name: str = "",
    service_criterion: str = "service",
) -> list[dict[str, Any]]:
    """One ``DongBoDanhGia`` row per procedure rated in ``month`` among ``records``' dossiers of
    ``agency`` (a record counts in the month its latest rating was given, UTC+7)."""
    if month.kind != "month":
        raise ValueError(f"{month.label}: DongBoDanhGia summarises one month")
    by_procedure: dict[str, list[EvaluationRecord]] = defaultdict(list)
    for rec in records:
        if rec.agency == agency and rec.verdict in LEVELS and month.contains(rec.rating_ms):
            by_procedure[rec.procedure or ""].append(rec)
    year, number = month.label.split("-")
    rows: list[dict[str, Any]] = []
    for procedure, rated in sorted(by_procedure.items()):
        verdicts = Counter(r.verdict for r in rated)
        service = Counter(r.answers.get(service_criterion) for r in rated)
        answered = sum(service[level] for level in LEVELS)
        row: dict[str, Any] = {
            "NgayTongHop": f"{int(number)}-{year}",
            "TongSoNguoiDanhGia": len(rated),
        }
        for level in LEVELS:
            row[f"PhanTramDanhGia{_SUFFIX[level]}"] = _percent(verdicts[level], len(rated))
        for level in LEVELS:
            row[f"PhanTramDanhGiaDichVu{_SUFFIX[level]}"] = _percent(service[level], answered)
        row.update(
            {
                "DanhSachNoiDungYKien": [],
                "MaThuTuc": procedure,
                "NoiDung": "",
                "Madonvi": agency,
                "TenDonVi": agency_name or agency,
            }
        )
        rows.append(row)
    return rows
