"""Builders of valid records for the schema tests: each fixture returns a fresh dict to mutate."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from .samples import OLD_ID_CARD, PERSONAL_ID, UTC7, Loc, Refuse


@pytest.fixture
def refuse() -> Refuse:
    """Validate ``data`` with ``model``, expect a ValidationError, return its (loc, type) pairs."""

    def run(
        model: type[BaseModel], data: Mapping[str, Any], context: object = None
    ) -> list[tuple[Loc, str]]:
        with pytest.raises(ValidationError) as excinfo:
            model.model_validate(data, context=context)
        return [(tuple(err["loc"]), err["type"]) for err in excinfo.value.errors()]

    return run


@pytest.fixture
def record_data() -> dict[str, Any]:
    """A minimal valid ``DongBoHoSoMC`` dossier record: required fields only."""
    return {
        "MaHoSo": "000.00.01.H22-250101-0001",
        "MaTTHC": "2.002492",
        "TenTTHC": "Đăng ký khai sinh",
        "MaLinhVuc": "G22-HT",
        "TenLinhVuc": "Hộ tịch",
        "SoGiayToChuHoSo": PERSONAL_ID,
        "LoaiDoiTuong": "1",
        "TrichYeuHoSo": "Đăng ký khai sinh cho con",
        "NgayTiepNhan": "20250101083000",
        "NgayHenTra": "20250103163000",
        "TrangThaiHoSo": "2",
        "HinhThuc": "0",
        "DonViXuLy": "UBND phường Bến Nghé",
    }


def _document(name: str) -> dict[str, Any]:
    return {
        "TepDinhKemId": "f-001",
        "TenTepDinhKem": name,
        "IsDeleted": "False",
        "MaThanhPhanHoSo": "TP01",
        "DuongDanTaiTepTin": "https://files.example.vn/f-001.pdf",
        "DuocSoHoa": "1",
        "DuocTaiSuDung": "0",
        "DuocLayTuKhoDMQG": "1",
        "MaKetQuaThayThe": "KQ-77",
    }


def _fee(amount: str) -> dict[str, Any]:
    return {
        "TenPhiLePhi": "Lệ phí đăng ký",
        "MaPhiLePhi": "LP01",
        "HinhThucThu": "1",
        "Gia": amount,
        "LoaiPhiLePhi": "1",
    }


@pytest.fixture
def full_record_data(record_data: dict[str, Any]) -> dict[str, Any]:
    """A valid dossier record with every field and every list filled, the 766 fields included."""
    return {
        **record_data,
        "TrangThaiHoSo": "10",
        "KenhThucHien": "2",
        "SoBienNhan": "BN-0001",
        "ChuHoSo": "Nguyễn Văn An",
        "MaDoiTuong": "acc-123",
        "ThongTinKhac": "Không",
        "Email": "an@example.vn",
        "Fax": "02838000000",
        "SoDienThoai": "0909000000",
        "NgayTra": "20250103150000",
        "ThongTinTra": "Đã trả tại quầy",
        "NgayKetThucXuLy": "20250102170000",
        "GhiChu": "Ghi chú",
        "NoiNopHoSo": "1",
        "HoSoCoThanhPhanSoHoa": "1",
        "TaiKhoanDuocXacThucVoiVNeID": "1",
        "DuocThanhToanTrucTuyen": "1",
        "NgayTuChoi": "20250101090000",
        "NgayNopHoSo": "20241231200000",
        "DinhDanhCHS": [
            {"LoaiDinhDanh": "1", "SoDinhDanh": PERSONAL_ID},
            {"LoaiDinhDanh": "2", "SoDinhDanh": OLD_ID_CARD},
        ],
        "DSKetNoiCSDL": [{"MaCSDL": "CSDLQGDC"}],
        "TaiLieuNop": [_document("Tờ khai đăng ký khai sinh.pdf")],
        "DanhSachLePhi": [_fee("8000")],
        "DanhSachTepDinhKemKhac": [
            {"TenGiayTo": "Giấy chứng sinh", "SoLuong": "1", "LoaiGiayTo": "Bản chính"}
        ],
        "DanhSachHoSoBoSung": [
            {
                "HoSoBoSungId": "BS-1",
                "NguoiYeuCauBoSung": "Trần Thị Bình",
                "NoiDungBoSung": "Bổ sung giấy chứng sinh",
                "NgayBoSung": "20250101100000",
                "NguoiTiepNhanBoSung": "Lê Văn Cường",
                "ThongTinTiepNhan": "Đã nhận",
                "NgayTiepNhanBoSung": "20250102080000",
                "TrangThaiBoSung": "1",
                "DanhSachGiayToBoSung": [_document("Giấy chứng sinh.pdf")],
                "DanhSachLePhiBoSung": [_fee("0")],
                "NgayHenTraTruoc": "20250103163000",
                "NgayHenTraMoi": "20250104163000",
            }
        ],
        "DanhSachGiayToKetQua": [
            {
                "TenGiayTo": "Giấy khai sinh",
                "MaThanhPhanHoSo": "KQ01",
                "GiayToId": "gt-1",
                "DuongDanTepTinKetQua": "https://files.example.vn/kq-1.pdf",
                "MaGiayToKetQua": "KQ-1",
            }
        ],
    }


@pytest.fixture
def progress_data() -> dict[str, Any]:
    """A valid ``CapNhatTienDoHoSoMC`` step with every field filled."""
    return {
        "MaHoSo": "000.00.01.H22-250101-0001",
        "NguoiXuLy": "Lê Văn Cường",
        "ChucDanh": "Công chức tư pháp",
        "ThoiDiemXuLy": "20250102143000",
        "PhongBanXuLy": "Bộ phận một cửa",
        "NoiDungXuLy": "Chuyển xử lý",
        "TrangThai": "4",
        "NgayBatDau": "20250101083000",
        "NgayKetThucTheoQuyDinh": "20250103163000",
    }


def _aware(hour: int, day: int = 1) -> datetime:
    return datetime(2025, 1, day, hour, 0, tzinfo=UTC7)


@pytest.fixture
def dossier_data() -> dict[str, Any]:
    """A valid provincial ``Dossier`` with aware datetimes, a supplement and a fee."""
    return {
        "dossier_no": "000.00.01.H22-250101-0001",
        "procedure_code": "2.002492",
        "procedure_name": "Đăng ký khai sinh",
        "field_code": "G22-HT",
        "field_name": "Hộ tịch",
        "channel": "2",
        "applicant": {
            "kind": "1",
            "name": "Nguyễn Văn An",
            "paper_number": PERSONAL_ID,
            "birth_date": date(2005, 3, 4),
            "sex": "male",
            "identifiers": [{"kind": "1", "number": PERSONAL_ID}],
        },
        "summary": "Đăng ký khai sinh cho con",
        "received_at": _aware(8),
        "due_at": _aware(16, day=3),
        "status": "4",
        "returned_at": None,
        "finished_at": None,
        "rejected_at": None,
        "submitted_at": _aware(7),
        "processing_unit": "UBND phường Bến Nghé",
        "fees": [{"name": "Lệ phí", "collection": "1", "amount": 8000}],
        "supplements": [
            {
                "supplement_id": "BS-1",
                "content": "Bổ sung giấy chứng sinh",
                "requested_at": _aware(10),
                "received_at": _aware(8, day=2),
                "fees": [{"name": "Phí bổ sung", "collection": "2", "amount": 0}],
                "previous_due_at": _aware(16, day=3),
                "new_due_at": _aware(16, day=4),
            }
        ],
    }


@pytest.fixture
def step_data() -> dict[str, Any]:
    """A valid provincial ``ProgressStep``."""
    return {
        "dossier_no": "000.00.01.H22-250101-0001",
        "handler": "Lê Văn Cường",
        "handled_at": datetime(2025, 1, 2, 7, 30, tzinfo=UTC),
        "content": "Chuyển xử lý",
        "status": "4",
        "started_at": _aware(8),
        "statutory_end_at": _aware(16, day=3),
    }
