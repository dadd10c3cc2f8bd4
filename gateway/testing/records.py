"""Valid national records and a settable clock, for tests of the gateway and of provinces."""

from __future__ import annotations

from typing import Any

from gateway.schemas.national import DossierRecord, ProgressRecord

__all__ = ["AGENCY", "DOSSIER_NO", "Clock", "national_dossier", "national_step"]

AGENCY = "000.00.01.H22"
DOSSIER_NO = "000.00.01.H22-250101-0001"


class Clock:
    """A settable clock in seconds since the epoch: inject it, then ``advance`` it."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.now += seconds


def national_dossier(no: str = DOSSIER_NO, status: str = "2", **extra: Any) -> DossierRecord:
    """A valid ``DongBoHoSoMC`` record; ``extra`` overrides or adds national fields."""
    data = {
        "MaHoSo": no,
        "MaTTHC": "1.001612",
        "TenTTHC": "Cấp giấy phép xây dựng",
        "MaLinhVuc": "XD",
        "TenLinhVuc": "Xây dựng",
        "KenhThucHien": "2",
        "SoGiayToChuHoSo": "001090012345",
        "LoaiDoiTuong": "1",
        "TrichYeuHoSo": "Xin cấp giấy phép xây dựng nhà ở riêng lẻ",
        "NgayTiepNhan": "20250101143000",
        "NgayHenTra": "20250115170000",
        "TrangThaiHoSo": status,
        "HinhThuc": "0",
        "DonViXuLy": "UBND xã",
        **extra,
    }
    return DossierRecord.model_validate(data)


def national_step(
    at: str, status: str = "4", no: str = DOSSIER_NO, content: str = "Xử lý"
) -> ProgressRecord:
    """A valid ``CapNhatTienDoHoSoMC`` step at ``at`` (``yyyyMMddHHmmss``)."""
    return ProgressRecord.model_validate(
        {
            "MaHoSo": no,
            "NguoiXuLy": "Nguyễn Văn A",
            "ThoiDiemXuLy": at,
            "NoiDungXuLy": content,
            "TrangThai": status,
        }
    )
